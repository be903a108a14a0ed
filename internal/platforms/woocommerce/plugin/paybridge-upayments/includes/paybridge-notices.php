<?php
/**
 * The notice a shopper sees when the bridge sends them back to the store
 * after a payment that did not go through. The bridge adds
 * paybridge_result (failed, canceled or expired) to the order's pay-page
 * address; this only ever shows a message in the store's language. The
 * order's state comes from the bridge's signed REST updates, never from
 * this parameter.
 *
 * Classic checkout (and the pay-for-order page, which WooCommerce renders
 * with the classic form under the Checkout block too): a WooCommerce
 * notice, added before the page is drawn. The Checkout block's own page:
 * assets/blocks.js shows the same text, passed in the payment method data
 * (Paybridge_Blocks::get_payment_method_data).
 *
 * @package Paybridge_UPayments
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The shopper's notice for a result, and its kind ("error" or "notice"),
 * translated; array( '', '' ) for anything else.
 *
 * @param string $result failed, canceled or expired.
 * @return string[] Text and kind.
 */
function paybridge_result_notice( $result ) {
	switch ( $result ) {
		case 'failed':
			return array( __( 'Your payment was declined or could not be completed, and you have not been charged. You can try again or choose another payment method.', 'paybridge-upayments' ), 'error' );
		case 'canceled':
			return array( __( 'You cancelled the payment, and you have not been charged. You can try again or choose another payment method.', 'paybridge-upayments' ), 'notice' );
		case 'expired':
			return array( __( 'The time to complete the payment ran out, and you have not been charged. Please try again.', 'paybridge-upayments' ), 'error' );
	}
	return array( '', '' );
}

/**
 * The notice for this request's paybridge_result, if any.
 *
 * @return string[] Text and kind (both '' when there is none).
 */
function paybridge_requested_result_notice() {
	// Only a message is chosen from it, so no nonce: the bridge's redirect carries it.
	$result = isset( $_GET['paybridge_result'] ) ? sanitize_key( wp_unslash( $_GET['paybridge_result'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended
	return paybridge_result_notice( $result );
}

/**
 * Whether the store's checkout page is the Checkout block.
 *
 * @return bool
 */
function paybridge_checkout_is_block() {
	return function_exists( 'has_block' ) && function_exists( 'wc_get_page_id' ) && has_block( 'woocommerce/checkout', wc_get_page_id( 'checkout' ) );
}

/**
 * Adds the notice on the checkout pages (template_redirect), once: on the
 * pay-for-order page, and on the checkout page when it is the classic one
 * (the Checkout block shows it through blocks.js).
 */
function paybridge_add_result_notice() {
	if ( ! function_exists( 'wc_add_notice' ) || ! function_exists( 'is_checkout' ) || ! is_checkout() ) {
		return;
	}
	list( $text, $kind ) = paybridge_requested_result_notice();
	if ( '' === $text ) {
		return;
	}
	if ( ! is_checkout_pay_page() && paybridge_checkout_is_block() ) {
		return;
	}
	if ( ! wc_has_notice( $text, $kind ) ) {
		wc_add_notice( $text, $kind );
	}
}
add_action( 'template_redirect', 'paybridge_add_result_notice' );
