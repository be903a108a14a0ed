<?php
/**
 * WooCommerce Blocks' payment method base class, as far as
 * class-paybridge-blocks.php uses it, for notice_test.php.
 */

namespace Automattic\WooCommerce\Blocks\Payments\Integrations {
	/** The base class: settings only. */
	abstract class AbstractPaymentMethodType {
		/** @var array */
		protected $settings = array();
	}
}
