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
	 * Load the settings.
	 */
	public function initialize() {
		$this->settings = get_option( 'woocommerce_paybridge_upayments_settings', array() );
	}

	/**
	 * Whether the method shows.
	 *
	 * @return bool
	 */
	public function is_active() {
		return isset( $this->settings['enabled'] ) && 'yes' === $this->settings['enabled'];
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
			array( 'wc-blocks-registry', 'wc-settings', 'wp-element', 'wp-html-entities', 'wp-i18n' ),
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
		return array(
			'title'       => isset( $this->settings['title'] ) ? $this->settings['title'] : __( 'Pay online', 'paybridge-upayments' ),
			'description' => isset( $this->settings['description'] ) ? $this->settings['description'] : '',
			'supports'    => array( 'products', 'refunds' ),
		);
	}
}
