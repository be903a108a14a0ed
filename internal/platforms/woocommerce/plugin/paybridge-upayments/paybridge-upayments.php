<?php
/**
 * Plugin Name: paybridge payments (UPayments, Checkout.com KNET, KuPay)
 * Description: Shoppers pay on the hosted page of the gateway connected to the store at paybridge (UPayments, Checkout.com KNET or KuPay); the paybridge service confirms every payment. Holds no gateway credentials and makes no payment decision.
 * Version: 1.0.0
 * Requires PHP: 7.4
 * WC requires at least: 7.0
 * Text Domain: paybridge-upayments
 * Domain Path: /languages
 *
 * @package Paybridge_UPayments
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'PAYBRIDGE_UPAYMENTS_FILE', __FILE__ );
define( 'PAYBRIDGE_UPAYMENTS_VERSION', '1.0.0' );

require_once __DIR__ . '/includes/paybridge-signature.php';

add_action(
	'plugins_loaded',
	function () {
		load_plugin_textdomain( 'paybridge-upayments', false, dirname( plugin_basename( __FILE__ ) ) . '/languages' );
		if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
			return;
		}
		require_once __DIR__ . '/includes/class-paybridge-gateway.php';
		add_filter(
			'woocommerce_payment_gateways',
			function ( $gateways ) {
				$gateways[] = 'Paybridge_Gateway';
				return $gateways;
			}
		);
	}
);

// Declare HPOS and Checkout block compatibility.
add_action(
	'before_woocommerce_init',
	function () {
		if ( class_exists( '\Automattic\WooCommerce\Utilities\FeaturesUtil' ) ) {
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'custom_order_tables', __FILE__, true );
			\Automattic\WooCommerce\Utilities\FeaturesUtil::declare_compatibility( 'cart_checkout_blocks', __FILE__, true );
		}
	}
);

// Register the payment method for the Checkout block.
add_action(
	'woocommerce_blocks_loaded',
	function () {
		if ( ! class_exists( '\Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType' ) ) {
			return;
		}
		require_once __DIR__ . '/includes/class-paybridge-blocks.php';
		add_action(
			'woocommerce_blocks_payment_method_type_registration',
			function ( $registry ) {
				$registry->register( new Paybridge_Blocks() );
			}
		);
	}
);

/**
 * Flags orders the bridge marked for attention (paid after cancellation,
 * amount mismatch, double payment) on the admin order list.
 *
 * @param string        $column Column id.
 * @param int|WC_Order  $order  Order or id.
 */
function paybridge_order_column_flag( $column, $order ) {
	if ( 'order_status' !== $column ) {
		return;
	}
	$order = is_object( $order ) ? $order : wc_get_order( $order );
	if ( ! $order ) {
		return;
	}
	$flag = $order->get_meta( '_paybridge_attention' );
	if ( '' === $flag || null === $flag ) {
		return;
	}
	$labels = array(
		'paid_after_cancel' => __( 'Paid after cancellation: check stock', 'paybridge-upayments' ),
		'amount_mismatch'   => __( 'Paid amount differs from the order total', 'paybridge-upayments' ),
		'double_payment'    => __( 'Possibly paid twice', 'paybridge-upayments' ),
	);
	$label = isset( $labels[ $flag ] ) ? $labels[ $flag ] : __( 'Payment needs attention', 'paybridge-upayments' );
	echo '<br><mark class="order-status status-on-hold" title="' . esc_attr( $label ) . '"><span>&#9888; ' . esc_html( $label ) . '</span></mark>';
}
add_action( 'manage_shop_order_posts_custom_column', 'paybridge_order_column_flag', 20, 2 );
add_action( 'manage_woocommerce_page_wc-orders_custom_column', 'paybridge_order_column_flag', 20, 2 );
