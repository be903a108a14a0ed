<?php
/**
 * Signatures shared with the bridge. Pure functions: no WordPress needed,
 * so tests/signature_test.php checks them against testdata/signatures/woocommerce.json (module root),
 * the same vectors the bridge's Go tests use.
 *
 * @package Paybridge_UPayments
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'PAYBRIDGE_TESTING' ) ) {
	exit;
}

/**
 * Signature of a pay link: hex HMAC-SHA256 over
 * "paybridge-pay-v1\n{shop_id}\n{order_id}\n{order_key}\n{return_url}".
 *
 * @param string $secret     Shared secret from the bridge.
 * @param string $shop_id    Shop id at the bridge.
 * @param string $order_id   WooCommerce order id.
 * @param string $order_key  WooCommerce order key.
 * @param string $return_url Order-received URL ('' if not sent).
 * @return string
 */
function paybridge_pay_signature( $secret, $shop_id, $order_id, $order_key, $return_url ) {
	$message = "paybridge-pay-v1\n" . $shop_id . "\n" . $order_id . "\n" . $order_key . "\n" . $return_url;
	return hash_hmac( 'sha256', $message, $secret );
}

/**
 * The pay link the plugin sends the shopper to.
 *
 * @param string $bridge_url Bridge base URL.
 * @param string $secret     Shared secret.
 * @param string $shop_id    Shop id.
 * @param string $order_id   Order id.
 * @param string $order_key  Order key.
 * @param string $return_url Order-received URL.
 * @param string $lang       "ar" or "en".
 * @return string
 */
function paybridge_pay_url( $bridge_url, $secret, $shop_id, $order_id, $order_key, $return_url, $lang ) {
	$query = array(
		'key'    => $order_key,
		'return' => $return_url,
		'lang'   => $lang,
		'sig'    => paybridge_pay_signature( $secret, $shop_id, $order_id, $order_key, $return_url ),
	);
	return rtrim( $bridge_url, '/' ) . '/woocommerce/pay/' . rawurlencode( $shop_id ) . '/' . rawurlencode( (string) $order_id ) . '?' . http_build_query( $query, '', '&', PHP_QUERY_RFC3986 );
}

/**
 * Signature of a refund request: hex HMAC-SHA256 over
 * "paybridge-refund-v1\n{shop_id}\n{timestamp}\n{raw body}".
 *
 * @param string $secret  Shared secret.
 * @param string $shop_id Shop id.
 * @param int    $ts      Unix timestamp.
 * @param string $body    Raw JSON body.
 * @return string
 */
function paybridge_refund_signature( $secret, $shop_id, $ts, $body ) {
	return hash_hmac( 'sha256', "paybridge-refund-v1\n" . $shop_id . "\n" . (string) (int) $ts . "\n" . $body, $secret );
}
