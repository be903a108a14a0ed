<?php
/**
 * Checkout block registration.
 *
 * @package Paybridge_UPayments
 */

use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The payment method as the Checkout block sees it.
 */
final class Paybridge_Blocks extends AbstractPaymentMethodType {

	/**
	 * Payment method name; the same id as the classic gateway.
	 *
	 * @var string
	 */
	protected $name = 'paybridge_upayments';

	/**
	 * The classic gateway behind this choice.
	 *
	 * @var Paybridge_Gateway|null
	 */
	private $gateway;

	/**
	 * One choice: the "UPayments" one or a method's (the classic gateway id).
	 *
	 * @param string $name Gateway id.
	 */
	public function __construct( $name = 'paybridge_upayments' ) {
		$this->name = $name;
	}

	/**
	 * Load the settings (shared by every choice).
	 */
	public function initialize() {
		$this->settings = get_option( 'woocommerce_paybridge_upayments_settings', array() );
		if ( ! class_exists( 'Paybridge_Gateway' ) ) {
			if ( ! class_exists( 'WC_Payment_Gateway' ) ) {
				return;
			}
			require_once __DIR__ . '/class-paybridge-gateway.php';
		}
		if ( 'paybridge_upayments' === $this->name ) {
			$this->gateway = new Paybridge_Gateway();
			return;
		}
		foreach ( array_keys( paybridge_method_names() ) as $src ) {
			if ( paybridge_method_gateway_id( $src ) === $this->name ) {
				$this->gateway = new Paybridge_Method_Gateway( $src );
			}
		}
	}

	/**
	 * Whether the choice shows: as the classic checkout decides.
	 *
	 * @return bool
	 */
	public function is_active() {
		return null !== $this->gateway && 'yes' === $this->gateway->enabled && $this->gateway->is_available();
	}

	/**
	 * The script that registers the method.
	 *
	 * @return string[]
	 */
	public function get_payment_method_script_handles() {
		wp_register_script(
			'paybridge-upayments-blocks',
			plugins_url( 'assets/blocks.js', PAYBRIDGE_UPAYMENTS_FILE ),
			array( 'wc-blocks-registry', 'wc-settings', 'wp-data', 'wp-element', 'wp-html-entities', 'wp-i18n' ),
			PAYBRIDGE_UPAYMENTS_VERSION,
			true
		);
		wp_set_script_translations( 'paybridge-upayments-blocks', 'paybridge-upayments', dirname( PAYBRIDGE_UPAYMENTS_FILE ) . '/languages' );
		return array( 'paybridge-upayments-blocks' );
	}

	/**
	 * Data for the script.
	 *
	 * @return array
	 */
	public function get_payment_method_data() {
		// The shopper is back from a payment that did not go through: the
		// script shows the notice (paybridge-notices.php).
		list( $notice, $notice_kind ) = function_exists( 'paybridge_requested_result_notice' ) ? paybridge_requested_result_notice() : array( '', '' );
		return array(
			'resultNotice'     => $notice,
			'resultNoticeKind' => $notice_kind,
			'title'       => $this->gateway ? $this->gateway->get_title() : __( 'Pay online', 'paybridge-upayments' ),
			'description' => isset( $this->settings['description'] ) ? $this->settings['description'] : '',
			'supports'    => array( 'products', 'refunds' ),
			'saveCard'    => $this->gateway && $this->gateway->offers_save_card(),
			'saveLabel'   => __( 'Save my card for next time', 'paybridge-upayments' ),
		);
	}
}
