<?php
/**
 * Checks the plugin's signatures against the shared vectors, the module's
 * testdata/signatures/woocommerce.json (the Go tests read the same file).
 * Run from anywhere:
 *   php signature_test.php [path/to/woocommerce.json]
 * Prints "ok N" and exits 0, or prints the mismatches and exits 1.
 */

define( 'PAYBRIDGE_TESTING', true );
require __DIR__ . '/../paybridge-upayments/includes/paybridge-signature.php';

$vectors_file = isset( $argv[1] ) ? $argv[1] : __DIR__ . '/../../../../../testdata/signatures/woocommerce.json';
$vectors      = json_decode( file_get_contents( $vectors_file ), true );
$fail    = 0;
$n       = 0;
foreach ( $vectors['pay'] as $v ) {
	++$n;
	$got = paybridge_pay_signature( $v['secret'], $v['shop_id'], $v['order_id'], $v['order_key'], $v['return_url'] );
	if ( $got !== $v['signature'] ) {
		echo "pay {$v['name']}: got $got want {$v['signature']}\n";
		++$fail;
	}
	$url = paybridge_pay_url( $v['bridge_url'], $v['secret'], $v['shop_id'], $v['order_id'], $v['order_key'], $v['return_url'], 'en' );
	echo 'url ' . $v['name'] . ' ' . $url . "\n";
}
foreach ( $vectors['pay_choices'] as $v ) {
	++$n;
	$choices = array(
		'method'    => $v['method'],
		'save_card' => $v['save_card'],
		'splits'    => $v['splits'],
	);
	$got     = paybridge_pay_signature( $v['secret'], $v['shop_id'], $v['order_id'], $v['order_key'], $v['return_url'], $choices );
	if ( $got !== $v['signature'] ) {
		echo "pay_choices {$v['name']}: got $got want {$v['signature']}\n";
		++$fail;
	}
	$url = paybridge_pay_url( $v['bridge_url'], $v['secret'], $v['shop_id'], $v['order_id'], $v['order_key'], $v['return_url'], 'ar', $choices );
	echo 'url ' . $v['name'] . ' ' . $url . "\n";
}
foreach ( $vectors['invoice'] as $v ) {
	++$n;
	$got = paybridge_invoice_signature( $v['secret'], $v['shop_id'], $v['timestamp'], $v['body'] );
	if ( $got !== $v['signature'] ) {
		echo "invoice {$v['name']}: got $got want {$v['signature']}\n";
		++$fail;
	}
}
foreach ( $vectors['refund'] as $v ) {
	++$n;
	$got = paybridge_refund_signature( $v['secret'], $v['shop_id'], $v['timestamp'], $v['body'] );
	if ( $got !== $v['signature'] ) {
		echo "refund {$v['name']}: got $got want {$v['signature']}\n";
		++$fail;
	}
}
foreach ( $vectors['webhook'] as $v ) {
	++$n;
	$got = base64_encode( hash_hmac( 'sha256', $v['body'], $v['secret'], true ) );
	if ( $got !== $v['signature'] ) {
		echo "webhook {$v['name']}: got $got want {$v['signature']}\n";
		++$fail;
	}
}
if ( $fail > 0 ) {
	exit( 1 );
}
echo "ok $n\n";
