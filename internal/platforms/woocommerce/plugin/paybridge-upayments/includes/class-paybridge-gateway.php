<?php
/**
 * The gateway: sends the shopper to the bridge with a signed link, and
 * forwards refunds to the bridge. The bridge confirms every payment with
 * the store's gateway (UPayments, Checkout.com KNET or KuPay) itself and
 * updates the order through the REST API.
 *
 * @package Paybridge_UPayments
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Payments via paybridge, on the gateway connected to the store.
 */
class Paybridge_Gateway extends WC_Payment_Gateway {

	/**
	 * Set up the gateway.
	 */
	public function __construct() {
		$this->id                 = 'paybridge_upayments';
		$this->has_fields         = false;
		$this->method_title       = __( 'Online payment (paybridge)', 'paybridge-upayments' );
		$this->method_description = __( 'Shoppers pay on the hosted page of the gateway connected to this store at paybridge (UPayments, Checkout.com KNET or KuPay). The paybridge service confirms every payment with the gateway and updates the order.', 'paybridge-upayments' );
		$this->supports           = array( 'products', 'refunds' );
		$this->init_form_fields();
		$this->init_settings();
		$this->title       = $this->get_option( 'title' );
		$this->description = $this->get_option( 'description' );
		add_action( 'woocommerce_update_options_payment_gateways_' . $this->id, array( $this, 'process_admin_options' ) );
	}

	/**
	 * Settings: the bridge URL, the shop id and the shared secret.
	 */
	public function init_form_fields() {
		$this->form_fields = array(
			'enabled'       => array(
				'title'   => __( 'Enable', 'paybridge-upayments' ),
				'type'    => 'checkbox',
				'label'   => __( 'Enable payments via paybridge', 'paybridge-upayments' ),
				'default' => 'no',
			),
			'title'         => array(
				'title'   => __( 'Title', 'paybridge-upayments' ),
				'type'    => 'text',
				'default' => __( 'Pay online', 'paybridge-upayments' ),
			),
			'description'   => array(
				'title'   => __( 'Description', 'paybridge-upayments' ),
				'type'    => 'textarea',
				'default' => __( 'You will be taken to the payment gateway\'s secure page to pay.', 'paybridge-upayments' ),
			),
			'bridge_url'    => array(
				'title'       => __( 'Bridge URL', 'paybridge-upayments' ),
				'type'        => 'text',
				'description' => __( 'The address of the paybridge service, e.g. https://pay.example.com', 'paybridge-upayments' ),
			),
			'shop_id'       => array(
				'title' => __( 'Shop ID', 'paybridge-upayments' ),
				'type'  => 'text',
			),
			'shared_secret' => array(
				'title'       => __( 'Shared secret', 'paybridge-upayments' ),
				'type'        => 'password',
				'description' => __( 'Shown once by paybridge when you connected the store.', 'paybridge-upayments' ),
			),
		);
	}

	/**
	 * Whether the gateway is configured well enough to show at checkout.
	 *
	 * @return bool
	 */
	public function is_available() {
		if ( '' === $this->get_option( 'bridge_url' ) || '' === $this->get_option( 'shop_id' ) || '' === $this->get_option( 'shared_secret' ) ) {
			return false;
		}
		return parent::is_available();
	}

	/**
	 * The signed pay link for an order.
	 *
	 * @param WC_Order $order Order.
	 * @return string
	 */
	public function pay_url( $order ) {
		$lang = 0 === strpos( determine_locale(), 'ar' ) ? 'ar' : 'en';
		return paybridge_pay_url(
			$this->get_option( 'bridge_url' ),
			$this->get_option( 'shared_secret' ),
			$this->get_option( 'shop_id' ),
			(string) $order->get_id(),
			$order->get_order_key(),
			$this->get_return_url( $order ),
			$lang
		);
	}

	/**
	 * Send the shopper to the bridge, which checks the order and sends them
	 * on to the gateway. No payment is decided here.
	 *
	 * @param int $order_id Order id.
	 * @return array
	 */
	public function process_payment( $order_id ) {
		$order = wc_get_order( $order_id );
		if ( ! $order ) {
			wc_add_notice( __( 'Order not found.', 'paybridge-upayments' ), 'error' );
			return array( 'result' => 'failure' );
		}
		return array(
			'result'   => 'success',
			'redirect' => $this->pay_url( $order ),
		);
	}

	/**
	 * Ask the bridge to refund at the gateway (signed request). A refund the
	 * gateway cannot make (KuPay makes none) is refused by the bridge before
	 * any gateway call, and its reason is shown to the merchant.
	 *
	 * @param int        $order_id Order id.
	 * @param float|null $amount   Amount.
	 * @param string     $reason   Reason.
	 * @return bool|WP_Error
	 */
	public function process_refund( $order_id, $amount = null, $reason = '' ) {
		$order = wc_get_order( $order_id );
		if ( ! $order || null === $amount ) {
			return new WP_Error( 'paybridge_refund', __( 'Refund amount missing.', 'paybridge-upayments' ) );
		}
		$refund_id = '';
		$refunds   = $order->get_refunds();
		if ( ! empty( $refunds ) ) {
			$refund_id = (string) $refunds[0]->get_id();
		}
		$body   = wp_json_encode(
			array(
				'order_id'  => (string) $order_id,
				'amount'    => wc_format_decimal( $amount, wc_get_price_decimals() ),
				'reason'    => (string) $reason,
				'refund_id' => $refund_id,
			)
		);
		$ts     = time();
		$shop   = $this->get_option( 'shop_id' );
		$result = wp_remote_post(
			rtrim( $this->get_option( 'bridge_url' ), '/' ) . '/woocommerce/refunds/' . rawurlencode( $shop ),
			array(
				'timeout' => 20,
				'headers' => array(
					'Content-Type'          => 'application/json',
					'X-Paybridge-Timestamp' => (string) $ts,
					'X-Paybridge-Signature' => paybridge_refund_signature( $this->get_option( 'shared_secret' ), $shop, $ts, $body ),
				),
				'body'    => $body,
			)
		);
		if ( is_wp_error( $result ) ) {
			return new WP_Error( 'paybridge_refund', __( 'Could not reach the payment service. No refund was made.', 'paybridge-upayments' ) );
		}
		$code = (int) wp_remote_retrieve_response_code( $result );
		$data = json_decode( wp_remote_retrieve_body( $result ), true );
		if ( 200 === $code || 202 === $code ) {
			if ( 202 === $code ) {
				$order->add_order_note( __( 'Refund sent to the payment gateway; its result will be added as a note.', 'paybridge-upayments' ) );
			}
			return true;
		}
		$message = isset( $data['error']['message'] ) ? $data['error']['message'] : ( isset( $data['message'] ) ? $data['message'] : '' );
		if ( 422 === $code && isset( $data['error']['code'] ) && 'refund_exceeds_captured' === $data['error']['code'] ) {
			$message = __( 'The refund is more than what is left to refund on this payment.', 'paybridge-upayments' );
		}
		/* translators: %s: the payment service's explanation */
		return new WP_Error( 'paybridge_refund', sprintf( __( 'Refund refused: %s', 'paybridge-upayments' ), $message ) );
	}
}
