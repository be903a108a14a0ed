<?php
/**
 * Runs the plugin's notice for a shopper sent back after a payment that
 * did not go through (includes/paybridge-notices.php), WordPress stubbed.
 * Run:
 *   php notice_test.php URL LANG PAGE
 * URL is where the bridge sent the shopper (its paybridge_result is read);
 * LANG is "en", "ar-mo" (translations from the shipped .mo, as WordPress
 * before 6.5 loads them) or "ar-l10n" (from the .l10n.php, 6.5 and later);
 * PAGE is "pay" (the pay-for-order page), "classic" (a shortcode checkout
 * page) or "block" (a Checkout block page). Prints the hook the notice is
 * added on, then "notice KIND: TEXT" for each notice WooCommerce would
 * show (the hook run twice, as a reload would not add it again), and
 * "block KIND: TEXT" for what the Checkout block's script is given.
 */

list( , $url, $lang, $page ) = $argv;

define( 'ABSPATH', __DIR__ . '/' );

$languages = __DIR__ . '/../paybridge-upayments/languages/paybridge-upayments-ar';

/**
 * Reads a GNU .mo file (little- or big-endian) into original => translation.
 *
 * @param string $file Path.
 * @return array
 */
function read_mo( $file ) {
	$b     = file_get_contents( $file );
	$magic = unpack( 'V', substr( $b, 0, 4 ) )[1];
	$f     = 0x950412de === $magic ? 'V' : ( 0xde120495 === $magic ? 'N' : '' );
	if ( '' === $f ) {
		fwrite( STDERR, "not a .mo file\n" );
		exit( 1 );
	}
	list( $rev, $n, $orig, $trans ) = array_values( unpack( $f . '4', substr( $b, 4, 16 ) ) );
	if ( 0 !== $rev ) {
		fwrite( STDERR, "unknown .mo revision $rev\n" );
		exit( 1 );
	}
	$out = array();
	for ( $i = 0; $i < $n; $i++ ) {
		list( $ol, $oo ) = array_values( unpack( $f . '2', substr( $b, $orig + 8 * $i, 8 ) ) );
		list( $tl, $to ) = array_values( unpack( $f . '2', substr( $b, $trans + 8 * $i, 8 ) ) );
		$out[ substr( $b, $oo, $ol ) ] = substr( $b, $to, $tl );
	}
	return $out;
}

$translations = array();
if ( 'ar-mo' === $lang ) {
	$translations = read_mo( $languages . '.mo' );
} elseif ( 'ar-l10n' === $lang ) {
	$l10n         = include $languages . '.l10n.php';
	$translations = $l10n['messages'];
}

/**
 * @param string $s      Text.
 * @param string $domain Text domain.
 * @return string
 */
function __( $s, $domain = 'default' ) {
	global $translations;
	if ( 'paybridge-upayments' !== $domain ) {
		return $s;
	}
	return isset( $translations[ $s ] ) && '' !== $translations[ $s ] ? $translations[ $s ] : $s;
}

$hooks = array();
/**
 * @param string   $hook Hook.
 * @param callable $fn   Callback.
 */
function add_action( $hook, $fn ) {
	global $hooks;
	$hooks[ $hook ][] = $fn;
}
/**
 * @param string $key Key.
 * @return string
 */
function sanitize_key( $key ) {
	return preg_replace( '/[^a-z0-9_\-]/', '', strtolower( (string) $key ) );
}
/**
 * @param mixed $v Value.
 * @return mixed
 */
function wp_unslash( $v ) {
	return is_string( $v ) ? stripslashes( $v ) : $v;
}
/** @return bool */
function is_checkout() {
	return true;
}
/** @return bool */
function is_checkout_pay_page() {
	global $page;
	return 'pay' === $page;
}
/**
 * @param string $name Block.
 * @param int    $post Post id.
 * @return bool
 */
function has_block( $name, $post ) {
	global $page;
	return 'woocommerce/checkout' === $name && 7 === $post && 'classic' !== $page;
}
/**
 * @param string $p Page.
 * @return int
 */
function wc_get_page_id( $p ) {
	return 'checkout' === $p ? 7 : -1;
}
$notices = array();
/**
 * @param string $text Text.
 * @param string $kind Kind.
 */
function wc_add_notice( $text, $kind = 'success' ) {
	global $notices;
	$notices[] = array( $kind, $text );
}
/**
 * @param string $text Text.
 * @param string $kind Kind.
 * @return bool
 */
function wc_has_notice( $text, $kind = 'success' ) {
	global $notices;
	return in_array( array( $kind, $text ), $notices, true );
}

$query = (string) parse_url( $url, PHP_URL_QUERY );
parse_str( $query, $_GET );

require __DIR__ . '/blocks_stub.php';
require __DIR__ . '/../paybridge-upayments/includes/paybridge-notices.php';
require __DIR__ . '/../paybridge-upayments/includes/class-paybridge-blocks.php';

foreach ( $hooks as $hook => $fns ) {
	echo 'hook: ' . $hook . "\n";
	foreach ( $fns as $fn ) {
		$fn();
		$fn();
	}
}
foreach ( $notices as $n ) {
	echo 'notice ' . $n[0] . ': ' . $n[1] . "\n";
}
$block = new Paybridge_Blocks();
$data  = $block->get_payment_method_data();
if ( '' !== $data['resultNotice'] ) {
	echo 'block ' . $data['resultNoticeKind'] . ': ' . $data['resultNotice'] . "\n";
}
