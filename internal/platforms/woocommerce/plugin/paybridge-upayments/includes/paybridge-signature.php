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
 * Signature of a pay link. Without choices: hex HMAC-SHA256 over
 * "paybridge-pay-v1\n{shop_id}\n{order_id}\n{order_key}\n{return_url}";
 * with any: over "paybridge-pay-v2\n{shop_id}\n{order_id}\n{order_key}\n
 * {return_url}\n{method}\n{"1" when saving the card, else ""}\n{splits JSON}".
 *
 * @param string $secret     Shared secret from the bridge.
 * @param string $shop_id    Shop id at the bridge.
 * @param string $order_id   WooCommerce order id.
 * @param string $order_key  WooCommerce order key.
 * @param string $return_url Order-received URL ('' if not sent).
 * @param array  $choices    Optional 'method' (knet, cc …), 'save_card' (bool), 'splits' (JSON string).
 * @return string
 */
function paybridge_pay_signature( $secret, $shop_id, $order_id, $order_key, $return_url, $choices = array() ) {
	$choices = paybridge_pay_choices( $choices );
	if ( '' === $choices['method'] && ! $choices['save_card'] && '' === $choices['splits'] ) {
		$message = "paybridge-pay-v1\n" . $shop_id . "\n" . $order_id . "\n" . $order_key . "\n" . $return_url;
	} else {
		$message = "paybridge-pay-v2\n" . $shop_id . "\n" . $order_id . "\n" . $order_key . "\n" . $return_url . "\n" .
			$choices['method'] . "\n" . ( $choices['save_card'] ? '1' : '' ) . "\n" . $choices['splits'];
	}
	return hash_hmac( 'sha256', $message, $secret );
}

/**
 * The choices of a pay link with their defaults.
 *
 * @param array $choices 'method', 'save_card', 'splits'.
 * @return array
 */
function paybridge_pay_choices( $choices ) {
	return array(
		'method'    => isset( $choices['method'] ) ? (string) $choices['method'] : '',
		'save_card' => ! empty( $choices['save_card'] ),
		'splits'    => isset( $choices['splits'] ) ? (string) $choices['splits'] : '',
	);
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
 * @param array  $choices    Optional 'method', 'save_card', 'splits' (see paybridge_pay_signature).
 * @return string
 */
function paybridge_pay_url( $bridge_url, $secret, $shop_id, $order_id, $order_key, $return_url, $lang, $choices = array() ) {
	$choices = paybridge_pay_choices( $choices );
	$query   = array(
		'key'    => $order_key,
		'return' => $return_url,
		'lang'   => $lang,
	);
	if ( '' !== $choices['method'] ) {
		$query['method'] = $choices['method'];
	}
	if ( $choices['save_card'] ) {
		$query['save_card'] = '1';
	}
	if ( '' !== $choices['splits'] ) {
		$query['splits'] = $choices['splits'];
	}
	$query['sig'] = paybridge_pay_signature( $secret, $shop_id, $order_id, $order_key, $return_url, $choices );
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

/**
 * Signature of a "Send payment link" request: hex HMAC-SHA256 over
 * "paybridge-invoice-v1\n{shop_id}\n{timestamp}\n{raw body}".
 *
 * @param string $secret  Shared secret.
 * @param string $shop_id Shop id.
 * @param int    $ts      Unix timestamp.
 * @param string $body    Raw JSON body.
 * @return string
 */
function paybridge_invoice_signature( $secret, $shop_id, $ts, $body ) {
	return hash_hmac( 'sha256', "paybridge-invoice-v1\n" . $shop_id . "\n" . (string) (int) $ts . "\n" . $body, $secret );
}

/**
 * The UPayments payment methods a merchant can offer, by paymentGateway.src:
 * each is its own choice at checkout. The names are translated where
 * WordPress runs; brand names (Apple Pay …) stay as they are.
 *
 * @return array src => English name.
 */
function paybridge_method_names() {
	return array(
		'knet'        => 'KNET',
		'cc'          => 'Credit or debit card',
		'apple-pay'   => 'Apple Pay',
		'google-pay'  => 'Google Pay',
		'samsung-pay' => 'Samsung Pay',
	);
}

/**
 * The gateway id of a method's checkout choice ("paybridge_upayments_knet").
 *
 * @param string $src Method.
 * @return string
 */
function paybridge_method_gateway_id( $src ) {
	return 'paybridge_upayments_' . str_replace( '-', '_', $src );
}

/**
 * The order's vendor splits as the bridge takes them: the order meta
 * _paybridge_splits (a JSON string, or an array a marketplace plugin
 * stored) passed through the paybridge_splits filter, re-encoded as a JSON
 * array; '' when there are none. Values are sent as they are: amounts must
 * be decimal strings ("6.500"), and the bridge refuses anything else with
 * a note on the order.
 *
 * @param object $order WC_Order (get_meta).
 * @return string
 */
function paybridge_order_splits( $order ) {
	$meta   = $order->get_meta( '_paybridge_splits', true );
	$splits = $meta;
	if ( is_string( $meta ) ) {
		$splits = '' === trim( $meta ) ? array() : json_decode( $meta, true );
		if ( null === $splits ) {
			// Not JSON: sent as is, so that the bridge names the problem.
			$splits = $meta;
		}
	}
	if ( function_exists( 'apply_filters' ) ) {
		/**
		 * Filters an order's vendor splits: a list of arrays with the keys
		 * iban, amount, knet_charge, knet_charge_type, cc_charge and
		 * cc_charge_type (decimal strings; types "fixed" or "percentage").
		 *
		 * @param array|string $splits The splits from the order meta.
		 * @param object       $order  The order.
		 */
		$splits = apply_filters( 'paybridge_splits', $splits, $order );
	}
	if ( empty( $splits ) ) {
		return '';
	}
	if ( is_string( $splits ) ) {
		return $splits;
	}
	return json_encode( array_values( (array) $splits ), JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
}
