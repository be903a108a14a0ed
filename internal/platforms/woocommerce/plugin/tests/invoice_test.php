<?php
/**
 * Runs the plugin's real send_payment_link (the order action "Send payment
 * link (paybridge)") against a running bridge, WordPress stubbed
 * (wp_stubs.php). Run:
 *   php invoice_test.php BRIDGE_URL SHOP_ID SHARED_SECRET ORDER_ID NOTIFY [SPLITS_META_JSON]
 * Prints "result: <status> <url> email=<bool> sms=<bool>" with the bridge's
 * answer, or "error: <the message the merchant is shown>". With
 * SPLITS_META_JSON the order carries the meta _paybridge_splits.
 */

list( , $bridge_url, $shop_id, $secret, $order_id, $invoice_notify ) = $argv;
$order_meta = array();
if ( isset( $argv[6] ) ) {
	$order_meta['_paybridge_splits'] = $argv[6];
}
$refund_id = '';
$decimals  = 3;

require __DIR__ . '/wp_stubs.php';

$gateway = new Paybridge_Gateway();
$result  = $gateway->send_payment_link( new Stub_Order() );
if ( is_wp_error( $result ) ) {
	echo 'error: ' . $result->get_error_message() . "\n";
} else {
	echo 'result: ' . $result['status'] . ' ' . ( isset( $result['url'] ) ? $result['url'] : '-' ) . ' email=' . var_export( $result['sent_email'], true ) . ' sms=' . var_export( $result['sent_sms'], true ) . "\n";
}
