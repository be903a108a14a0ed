<?php
/**
 * Runs the plugin's real process_refund against a running bridge, with
 * the few WordPress and WooCommerce functions it calls stubbed (HTTP goes
 * out through PHP's own stream wrapper). Run:
 *   php refund_test.php BRIDGE_URL SHOP_ID SHARED_SECRET ORDER_ID AMOUNT DECIMALS [REFUND_ID]
 * Prints "result: true" when the plugin accepts the refund, or
 * "error: <the message WooCommerce would show the merchant>", and
 * "note: <text>" for each order note the plugin adds.
 */

list( , $bridge_url, $shop_id, $secret, $order_id, $amount, $decimals ) = $argv;
$refund_id = isset( $argv[7] ) ? $argv[7] : '';

$order_meta = array();

require __DIR__ . '/wp_stubs.php';

$gateway = new Paybridge_Gateway();
$result  = $gateway->process_refund( (int) $order_id, $amount, 'damaged' );
if ( is_wp_error( $result ) ) {
	echo 'error: ' . $result->get_error_message() . "\n";
} else {
	echo 'result: ' . var_export( $result, true ) . "\n";
}
