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
	 * The UPayments method this checkout choice names (paymentGateway.src);
	 * '' for the one "UPayments" choice, whose page offers every method.
	 *
	 * @var string
	 */
	public $method_src = '';

	/**
	 * Set up the gateway.
	 */
	public function __construct() {
		if ( '' === (string) $this->id ) {
			$this->id = 'paybridge_upayments';
		}
		$this->has_fields         = true;
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
		$first = true;
		foreach ( paybridge_method_names() as $src => $name ) {
			$this->form_fields[ 'method_' . $src ] = array(
				'title'       => $first ? __( 'Payment methods', 'paybridge-upayments' ) : '',
				'type'        => 'checkbox',
				/* translators: %s: a payment method (KNET, Card …) */
				'label'       => sprintf( __( 'Offer %s as its own choice at checkout', 'paybridge-upayments' ), __( $name, 'paybridge-upayments' ) ), // phpcs:ignore WordPress.WP.I18n.NonSingularStringLiteralText
				'default'     => 'no',
				'description' => $first ? __( 'For a UPayments white-label account: tick the methods your account has. Leave all unticked for a non-white-label account: shoppers then see one "UPayments" choice and pick the method on the UPayments page.', 'paybridge-upayments' ) : '',
			);
			$first = false;
		}
		$this->form_fields['save_cards']     = array(
			'title'   => __( 'Saved cards', 'paybridge-upayments' ),
			'type'    => 'checkbox',
			'label'   => __( 'Offer logged-in customers "Save my card for next time" (the gateway keeps the card; returning customers see their saved cards)', 'paybridge-upayments' ),
			'default' => 'no',
		);
		$this->form_fields['invoice_notify'] = array(
			'title'       => __( 'Payment links', 'paybridge-upayments' ),
			'type'        => 'select',
			'description' => __( 'How the order action "Send payment link (paybridge)" delivers the link on orders made in the admin or by phone. The link is always added to the order notes.', 'paybridge-upayments' ),
			'default'     => 'email',
			'options'     => array(
				'email' => __( 'By e-mail', 'paybridge-upayments' ),
				'sms'   => __( 'By SMS', 'paybridge-upayments' ),
				'all'   => __( 'By e-mail and SMS', 'paybridge-upayments' ),
				'link'  => __( 'Do not send: only add the link to the order notes', 'paybridge-upayments' ),
			),
		);
	}

	/**
	 * The methods the merchant ticked (paymentGateway.src values).
	 *
	 * @return string[]
	 */
	public function ticked_methods() {
		$out = array();
		foreach ( array_keys( paybridge_method_names() ) as $src ) {
			if ( 'yes' === $this->get_option( 'method_' . $src, 'no' ) ) {
				$out[] = $src;
			}
		}
		return $out;
	}

	/**
	 * Whether this choice shows the "Save my card" box: the setting is on,
	 * the shopper is logged in, and the choice can take a card.
	 *
	 * @return bool
	 */
	public function offers_save_card() {
		return 'yes' === $this->get_option( 'save_cards', 'no' ) && function_exists( 'is_user_logged_in' ) && is_user_logged_in() &&
			in_array( $this->method_src, array( '', 'cc' ), true );
	}

	/**
	 * The description, and the "Save my card" box for logged-in customers.
	 */
	public function payment_fields() {
		$description = $this->get_description();
		if ( $description ) {
			echo wpautop( wptexturize( $description ) ); // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped
		}
		if ( $this->offers_save_card() ) {
			$name = 'paybridge_save_card';
			echo '<p class="form-row"><label for="' . esc_attr( $this->id . '_save_card' ) . '"><input type="checkbox" id="' . esc_attr( $this->id . '_save_card' ) .
				'" name="' . esc_attr( $name ) . '" value="1"> ' . esc_html__( 'Save my card for next time', 'paybridge-upayments' ) . '</label></p>';
		}
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
		// The one "UPayments" choice shows only when no method is ticked;
		// a method's choice only when it is.
		$ticked = $this->ticked_methods();
		if ( '' === $this->method_src ? ! empty( $ticked ) : ! in_array( $this->method_src, $ticked, true ) ) {
			return false;
		}
		return parent::is_available();
	}

	/**
	 * The signed pay link for an order.
	 *
	 * @param WC_Order $order     Order.
	 * @param bool     $save_card The shopper ticked "Save my card for next time".
	 * @return string
	 */
	public function pay_url( $order, $save_card = false ) {
		$lang = 0 === strpos( determine_locale(), 'ar' ) ? 'ar' : 'en';
		return paybridge_pay_url(
			$this->get_option( 'bridge_url' ),
			$this->get_option( 'shared_secret' ),
			$this->get_option( 'shop_id' ),
			(string) $order->get_id(),
			$order->get_order_key(),
			$this->get_return_url( $order ),
			$lang,
			array(
				'method'    => $this->method_src,
				'save_card' => $save_card,
				'splits'    => paybridge_order_splits( $order ),
			)
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
		// The classic checkout posts the box; the Checkout block passes its
		// payment data as $_POST to gateways like this one. The checkout's
		// own nonce has been checked by WooCommerce.
		$save = $this->offers_save_card() && isset( $_POST['paybridge_save_card'] ) && '1' === $_POST['paybridge_save_card']; // phpcs:ignore WordPress.Security.NonceVerification.Missing
		return array(
			'result'   => 'success',
			'redirect' => $this->pay_url( $order, $save ),
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

	/**
	 * Ask the bridge to have the gateway make a payment link for the order
	 * and deliver it as the "Payment links" setting says (signed request).
	 * The bridge adds one order note with the link and what was sent;
	 * asking again while that link is open sends nothing.
	 *
	 * @param WC_Order $order Order.
	 * @return array|WP_Error The bridge's answer (status "sent" or "already_sent", url …).
	 */
	public function send_payment_link( $order ) {
		$splits = paybridge_order_splits( $order );
		$req    = array(
			'order_id' => (string) $order->get_id(),
			'notify'   => $this->get_option( 'invoice_notify', 'email' ),
			'lang'     => function_exists( 'get_locale' ) ? get_locale() : 'en',
		);
		if ( '' !== $splits ) {
			$decoded       = json_decode( $splits, true );
			$req['splits'] = null === $decoded ? $splits : $decoded;
		}
		$body   = wp_json_encode( $req );
		$ts     = time();
		$shop   = $this->get_option( 'shop_id' );
		$result = wp_remote_post(
			rtrim( $this->get_option( 'bridge_url' ), '/' ) . '/woocommerce/invoices/' . rawurlencode( $shop ),
			array(
				'timeout' => 30,
				'headers' => array(
					'Content-Type'          => 'application/json',
					'X-Paybridge-Timestamp' => (string) $ts,
					'X-Paybridge-Signature' => paybridge_invoice_signature( $this->get_option( 'shared_secret' ), $shop, $ts, $body ),
				),
				'body'    => $body,
			)
		);
		if ( is_wp_error( $result ) ) {
			return new WP_Error( 'paybridge_link', __( 'Could not reach the payment service. No payment link was sent.', 'paybridge-upayments' ) );
		}
		$code = (int) wp_remote_retrieve_response_code( $result );
		$data = json_decode( wp_remote_retrieve_body( $result ), true );
		if ( 200 === $code && is_array( $data ) ) {
			return $data;
		}
		$message = isset( $data['error']['message'] ) ? $data['error']['message'] : sprintf( 'HTTP %d', $code );
		/* translators: %s: the payment service's explanation */
		return new WP_Error( 'paybridge_link', sprintf( __( 'No payment link was sent: %s', 'paybridge-upayments' ), $message ) );
	}
}

/**
 * One UPayments method (KNET, Card …) as its own checkout choice. It shares
 * the settings of "Online payment (paybridge)" (the same option), and shows
 * when that method is ticked there.
 */
class Paybridge_Method_Gateway extends Paybridge_Gateway {

	/**
	 * Set up the choice for a method.
	 *
	 * @param string $src paymentGateway.src (knet, cc, apple-pay …).
	 */
	public function __construct( $src = 'knet' ) {
		$this->method_src = $src;
		// The id first: the parent hooks the settings form under it.
		$this->id = paybridge_method_gateway_id( $src );
		parent::__construct();
		$names                    = paybridge_method_names();
		$this->title              = __( $names[ $src ], 'paybridge-upayments' ); // phpcs:ignore WordPress.WP.I18n.NonSingularStringLiteralText
		$this->method_title       = $this->title . ' (paybridge)';
		$this->method_description = __( 'This choice uses the settings of "Online payment (paybridge)", where its method is ticked.', 'paybridge-upayments' );
	}

	/**
	 * The settings are those of the main gateway.
	 *
	 * @return string
	 */
	public function get_option_key() {
		return $this->plugin_id . 'paybridge_upayments_settings';
	}
}
