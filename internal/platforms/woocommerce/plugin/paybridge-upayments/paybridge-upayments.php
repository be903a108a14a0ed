<?php
/**
 * Plugin Name: paybridge payments (UPayments, Checkout.com KNET, KuPay)
 * Description: Shoppers pay on the hosted page of the gateway connected to the store at paybridge (UPayments, Checkout.com KNET or KuPay); the paybridge service confirms every payment. Holds no gateway credentials and makes no payment decision.
 * Version: 1.2.0
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
define( 'PAYBRIDGE_UPAYMENTS_VERSION', '1.2.0' );

require_once __DIR__ . '/includes/paybridge-signature.php';
require_once __DIR__ . '/includes/paybridge-notices.php';

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
				// The one "UPayments" choice, then one per method: each shows
				// at checkout when its method is ticked in the settings (all
				// stay registered, so that their orders can be refunded).
				$gateways[] = 'Paybridge_Gateway';
				foreach ( array_keys( paybridge_method_names() ) as $src ) {
					$gateways[] = new Paybridge_Method_Gateway( $src );
				}
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
				$registry->register( new Paybridge_Blocks( 'paybridge_upayments' ) );
				foreach ( array_keys( paybridge_method_names() ) as $src ) {
					$registry->register( new Paybridge_Blocks( paybridge_method_gateway_id( $src ) ) );
				}
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

/**
 * Whether an order gets the "Send payment link (paybridge)" action: one
 * still to be paid that was made in the admin or by phone (not at the
 * checkout, whose shopper is sent to pay already). The filter
 * paybridge_payment_link_created_via changes which origins qualify.
 *
 * @param WC_Order $order Order.
 * @return bool
 */
function paybridge_offers_payment_link( $order ) {
	$origins = apply_filters( 'paybridge_payment_link_created_via', array( 'admin', 'phone', 'phone-order', 'phone_order', 'rest-api' ) );
	return $order && $order->needs_payment() && in_array( $order->get_created_via(), (array) $origins, true );
}

add_filter(
	'woocommerce_order_actions',
	function ( $actions, $order = null ) {
		if ( null === $order && isset( $GLOBALS['theorder'] ) ) {
			$order = $GLOBALS['theorder'];
		}
		if ( $order instanceof WC_Order && paybridge_offers_payment_link( $order ) ) {
			$actions['paybridge_send_payment_link'] = __( 'Send payment link (paybridge)', 'paybridge-upayments' );
		}
		return $actions;
	},
	10,
	2
);

add_action(
	'woocommerce_order_action_paybridge_send_payment_link',
	function ( $order ) {
		if ( ! class_exists( 'Paybridge_Gateway' ) ) {
			return;
		}
		$gateway = new Paybridge_Gateway();
		$result  = $gateway->send_payment_link( $order );
		if ( is_wp_error( $result ) ) {
			// Shown on the order screen; nothing was sent, so no note.
			if ( class_exists( 'WC_Admin_Meta_Boxes' ) ) {
				WC_Admin_Meta_Boxes::add_error( $result->get_error_message() );
			}
			return;
		}
		// The bridge has noted the link and what was sent on the order.
		if ( ! empty( $result['message'] ) ) {
			/* translators: %s: the payment link */
			$order->add_order_note( sprintf( __( 'Payment link made: %s', 'paybridge-upayments' ), isset( $result['url'] ) ? $result['url'] : '' ) );
		}
	}
);
