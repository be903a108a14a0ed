<?php
/**
 * Checks paybridge_order_splits: the order meta _paybridge_splits (a JSON
 * string or an array) through the paybridge_splits filter, as the pay link
 * and the payment-link request carry it. Prints "ok N" and exits 0, or the
 * mismatches and exits 1.
 */

define( 'PAYBRIDGE_TESTING', true );
require __DIR__ . '/../paybridge-upayments/includes/paybridge-signature.php';

$filters = array();

/**
 * The filter stub: runs what the case registered.
 *
 * @param string $name  Filter.
 * @param mixed  $value Value.
 * @param mixed  ...$args Arguments.
 * @return mixed
 */
function apply_filters( $name, $value, ...$args ) {
	global $filters;
	return isset( $filters[ $name ] ) ? call_user_func( $filters[ $name ], $value, ...$args ) : $value;
}

/** An order with meta. */
class Meta_Order {
	/** @var array */
	public $meta;
	/** @param array $meta Meta. */
	public function __construct( $meta ) {
		$this->meta = $meta;
	}
	/**
	 * @param string $key Key.
	 * @return mixed
	 */
	public function get_meta( $key ) {
		return isset( $this->meta[ $key ] ) ? $this->meta[ $key ] : '';
	}
}

$share = array(
	'iban'   => 'KW81CBKU0000000000001234560101',
	'amount' => '6.500',
);
$cases = array(
	'none'            => array( array(), null, '' ),
	'json meta'       => array( array( '_paybridge_splits' => ' [{"iban":"KW81CBKU0000000000001234560101","amount":"6.500"}] ' ), null, '[{"iban":"KW81CBKU0000000000001234560101","amount":"6.500"}]' ),
	'array meta'      => array( array( '_paybridge_splits' => array( 'x' => $share ) ), null, '[{"iban":"KW81CBKU0000000000001234560101","amount":"6.500"}]' ),
	'empty array'     => array( array( '_paybridge_splits' => '[]' ), null, '' ),
	'not json'        => array( array( '_paybridge_splits' => '{oops' ), null, '{oops' ),
	'filter adds'     => array(
		array(),
		function ( $splits, $order ) use ( $share ) {
			return array( $share, array_merge( $share, array( 'knet_charge' => '0.100', 'knet_charge_type' => 'fixed' ) ) );
		},
		'[{"iban":"KW81CBKU0000000000001234560101","amount":"6.500"},{"iban":"KW81CBKU0000000000001234560101","amount":"6.500","knet_charge":"0.100","knet_charge_type":"fixed"}]',
	),
	'filter clears'   => array( array( '_paybridge_splits' => '[{"iban":"x","amount":"1"}]' ), function () {
		return array();
	}, '' ),
	'arabic untouched' => array( array( '_paybridge_splits' => '[{"iban":"KW81CBKU0000000000001234560101","amount":"6.500","note":"بائع/1"}]' ), null, '[{"iban":"KW81CBKU0000000000001234560101","amount":"6.500","note":"بائع/1"}]' ),
);
$fail = 0;
foreach ( $cases as $name => $c ) {
	$filters = null === $c[1] ? array() : array( 'paybridge_splits' => $c[1] );
	$got     = paybridge_order_splits( new Meta_Order( $c[0] ) );
	if ( $got !== $c[2] ) {
		echo "$name: got $got want {$c[2]}\n";
		++$fail;
	}
}
if ( $fail > 0 ) {
	exit( 1 );
}
echo 'ok ' . count( $cases ) . "\n";
