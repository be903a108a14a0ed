<?php
/**
 * The few WordPress and WooCommerce functions and classes the plugin's
 * gateway calls, stubbed for the command-line tests (refund_test.php,
 * invoice_test.php). HTTP goes out through PHP's own stream wrapper. The
 * caller sets the globals $bridge_url, $shop_id, $secret (the settings),
 * $refund_id, $decimals and $order_meta (the order's meta by key), then
 * requires this file.
 */

define( 'ABSPATH', __DIR__ . '/' );

/** WordPress's error object, as far as the plugin uses it. */
class WP_Error {
	/** @var string */
	private $message;
	/**
	 * @param string $code    Code.
	 * @param string $message Message.
	 */
	public function __construct( $code, $message ) {
		$this->message = $message;
	}
	/** @return string */
	public function get_error_message() {
		return $this->message;
	}
}

/** WooCommerce's gateway base class, settings only. */
class WC_Payment_Gateway {
	/** @var string */
	public $id = '';
	/** @var string */
	public $plugin_id = 'woocommerce_';
	/** @var string */
	public $enabled = 'yes';
	/** @var string */
	public $description = '';
	/** @var string */
	public $title = '';
	/** @var array */
	public $settings = array();
	/** Loads the settings given on the command line. */
	public function init_settings() {
		global $bridge_url, $shop_id, $secret;
		global $invoice_notify;
		$this->settings = array( 'bridge_url' => $bridge_url, 'shop_id' => $shop_id, 'shared_secret' => $secret, 'title' => '', 'description' => '',
			'invoice_notify' => isset( $invoice_notify ) ? $invoice_notify : 'email' );
	}
	/**
	 * @param string $key   Key.
	 * @param string $empty Default.
	 * @return string
	 */
	public function get_option( $key, $empty = '' ) {
		return isset( $this->settings[ $key ] ) ? $this->settings[ $key ] : $empty;
	}
	/** @return bool */
	public function is_available() {
		return 'yes' === $this->enabled;
	}
	/** @return string */
	public function get_title() {
		return isset( $this->title ) ? $this->title : '';
	}
	/** @return string */
	public function get_description() {
		return isset( $this->description ) ? $this->description : '';
	}
	/**
	 * @param object $order Order.
	 * @return string
	 */
	public function get_return_url( $order ) {
		global $return_url;
		return (string) $return_url;
	}
}

/** An order with one refund (the one being made), as WooCommerce passes it. */
class Stub_Refund {
	/** @return string */
	public function get_id() {
		global $refund_id;
		return $refund_id;
	}
}

/** The order being refunded, or sent a payment link. */
class Stub_Order {
	/** @return int */
	public function get_id() {
		global $order_id;
		return (int) $order_id;
	}
	/** @return string */
	public function get_order_key() {
		global $order_key;
		return (string) $order_key;
	}
	/**
	 * @param string $key Meta key.
	 * @return mixed
	 */
	public function get_meta( $key ) {
		global $order_meta;
		return isset( $order_meta[ $key ] ) ? $order_meta[ $key ] : '';
	}
	/** @return array */
	public function get_refunds() {
		global $refund_id;
		return '' === $refund_id ? array() : array( new Stub_Refund() );
	}
	/** @param string $note Note. */
	public function add_order_note( $note ) {
		echo 'note: ' . $note . "\n";
	}
}

/**
 * @param string $s Text.
 * @return string
 */
function __( $s ) {
	return $s;
}
/** Ignored. */
function add_action() {}
/** @return Stub_Order */
function wc_get_order() {
	return new Stub_Order();
}
/**
 * @param mixed $v Value.
 * @return string
 */
function wp_json_encode( $v ) {
	return json_encode( $v );
}
/**
 * @param mixed $v Amount.
 * @param int   $d Decimals.
 * @return string
 */
function wc_format_decimal( $v, $d ) {
	return number_format( (float) $v, $d, '.', '' );
}
/** @return int */
function wc_get_price_decimals() {
	global $decimals;
	return (int) $decimals;
}
/**
 * @param mixed $v Value.
 * @return bool
 */
function is_wp_error( $v ) {
	return $v instanceof WP_Error;
}
/**
 * POSTs with PHP's HTTP stream wrapper.
 *
 * @param string $url  URL.
 * @param array  $args Timeout, headers and body.
 * @return array|WP_Error
 */
function wp_remote_post( $url, $args ) {
	$headers = '';
	foreach ( $args['headers'] as $k => $v ) {
		$headers .= $k . ': ' . $v . "\r\n";
	}
	$ctx  = stream_context_create(
		array(
			'http' => array(
				'method'        => 'POST',
				'header'        => $headers,
				'content'       => $args['body'],
				'timeout'       => $args['timeout'],
				'ignore_errors' => true,
			),
		)
	);
	$body = @file_get_contents( $url, false, $ctx );
	if ( false === $body || empty( $http_response_header ) ) {
		return new WP_Error( 'http', 'unreachable' );
	}
	preg_match( '#^HTTP/\S+\s+(\d{3})#', $http_response_header[0], $m );
	return array( 'code' => (int) $m[1], 'body' => $body );
}
/**
 * @param array $r Response.
 * @return int
 */
function wp_remote_retrieve_response_code( $r ) {
	return $r['code'];
}
/**
 * @param array $r Response.
 * @return string
 */
function wp_remote_retrieve_body( $r ) {
	return $r['body'];
}

/**
 * @param string $s Text.
 * @return string
 */
function esc_html__( $s ) {
	return $s;
}
/**
 * @param string $s Text.
 * @return string
 */
function esc_attr( $s ) {
	return htmlspecialchars( (string) $s, ENT_QUOTES );
}
/**
 * @param string $s Text.
 * @return string
 */
function wpautop( $s ) {
	return '<p>' . $s . '</p>';
}
/**
 * @param string $s Text.
 * @return string
 */
function wptexturize( $s ) {
	return $s;
}
/** @return bool */
function is_user_logged_in() {
	global $logged_in;
	return ! empty( $logged_in );
}
/** @return string */
function determine_locale() {
	return 'en_US';
}
/** @return string */
function get_locale() {
	return 'ar';
}
/**
 * Applies the filters the test registered in $filters.
 *
 * @param string $name  Filter.
 * @param mixed  $value Value.
 * @param mixed  ...$args Arguments.
 * @return mixed
 */
function apply_filters( $name, $value, ...$args ) {
	global $filters;
	if ( isset( $filters[ $name ] ) ) {
		$value = call_user_func( $filters[ $name ], $value, ...$args );
	}
	return $value;
}
require __DIR__ . '/../paybridge-upayments/includes/paybridge-signature.php';
require __DIR__ . '/../paybridge-upayments/includes/class-paybridge-gateway.php';
