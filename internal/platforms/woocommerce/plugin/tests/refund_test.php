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

define( 'ABSPATH', __DIR__ . '/' );

list( , $bridge_url, $shop_id, $secret, $order_id, $amount, $decimals ) = $argv;
$refund_id = isset( $argv[7] ) ? $argv[7] : '';

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
	/** @var array */
	public $settings = array();
	/** Loads the settings given on the command line. */
	public function init_settings() {
		global $bridge_url, $shop_id, $secret;
		$this->settings = array( 'bridge_url' => $bridge_url, 'shop_id' => $shop_id, 'shared_secret' => $secret, 'title' => '', 'description' => '' );
	}
	/**
	 * @param string $key Key.
	 * @return string
	 */
	public function get_option( $key ) {
		return isset( $this->settings[ $key ] ) ? $this->settings[ $key ] : '';
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

/** The order being refunded. */
class Stub_Order {
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

require __DIR__ . '/../paybridge-upayments/includes/paybridge-signature.php';
require __DIR__ . '/../paybridge-upayments/includes/class-paybridge-gateway.php';

$gateway = new Paybridge_Gateway();
$result  = $gateway->process_refund( (int) $order_id, $amount, 'damaged' );
if ( is_wp_error( $result ) ) {
	echo 'error: ' . $result->get_error_message() . "\n";
} else {
	echo 'result: ' . var_export( $result, true ) . "\n";
}
