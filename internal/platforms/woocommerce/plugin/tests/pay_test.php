<?php
/**
 * Runs the plugin's real process_payment for one checkout choice, as the
 * classic checkout (or the Checkout block, which passes its payment data as
 * $_POST) calls it, WordPress stubbed (wp_stubs.php). Run:
 *   php pay_test.php BRIDGE_URL SHOP_ID SHARED_SECRET ORDER_ID ORDER_KEY RETURN_URL CHOICE SAVE_CARDS LOGGED_IN POST_SAVE [SPLITS_META_JSON]
 * CHOICE is "" (the one UPayments choice) or a method (knet, cc …);
 * SAVE_CARDS the "Saved cards" setting (yes/no); LOGGED_IN 1 or 0;
 * POST_SAVE the posted "Save my card" box (1 or ""). Prints
 * "redirect: <the pay link>" and "fields: <what payment_fields shows>",
 * then for each checkout choice whether it shows ("available: <id> yes"),
 * with the methods in the environment variable PAYBRIDGE_TICKED
 * (comma-separated) ticked.
 */

list( , $bridge_url, $shop_id, $secret, $order_id, $order_key, $return_url, $choice, $save_cards, $logged_in, $post_save ) = $argv;
$order_meta = array();
if ( isset( $argv[11] ) ) {
	$order_meta['_paybridge_splits'] = $argv[11];
}
$refund_id = '';
$decimals  = 3;

require __DIR__ . '/wp_stubs.php';

$gateway                         = '' === $choice ? new Paybridge_Gateway() : new Paybridge_Method_Gateway( $choice );
$gateway->settings['save_cards'] = $save_cards;
$ticked                          = array_filter( explode( ',', (string) getenv( 'PAYBRIDGE_TICKED' ) ) );
if ( '' !== $post_save ) {
	$_POST['paybridge_save_card'] = $post_save;
}
ob_start();
$gateway->payment_fields();
$fields = ob_get_clean();
$result = $gateway->process_payment( (int) $order_id );
echo 'id: ' . $gateway->id . "\n";
echo 'redirect: ' . $result['redirect'] . "\n";
echo 'fields: ' . $fields . "\n";
foreach ( array_merge( array( '' ), array_keys( paybridge_method_names() ) ) as $src ) {
	$g = '' === $src ? new Paybridge_Gateway() : new Paybridge_Method_Gateway( $src );
	foreach ( $ticked as $t ) {
		$g->settings[ 'method_' . $t ] = 'yes';
	}
	echo 'available: ' . $g->id . ' ' . ( $g->is_available() ? 'yes' : 'no' ) . ' ' . $g->get_title() . "\n";
}
