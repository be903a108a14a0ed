/* Registers "Online payment (paybridge)" with the Checkout block. The block
 * checkout calls the classic gateway's process_payment, whose redirect
 * takes the shopper to the bridge. */
( function () {
	var registry = window.wc && window.wc.wcBlocksRegistry;
	var settings = window.wc && window.wc.wcSettings;
	if ( ! registry || ! settings ) {
		return;
	}
	var el = window.wp.element.createElement;
	var decode = window.wp.htmlEntities.decodeEntities;
	var data = settings.getSetting( 'paybridge_upayments_data', {} );
	var title = decode( data.title || window.wp.i18n.__( 'Pay online', 'paybridge-upayments' ) );
	var Content = function () {
		return el( 'div', null, decode( data.description || '' ) );
	};
	registry.registerPaymentMethod( {
		name: 'paybridge_upayments',
		label: el( 'span', null, title ),
		ariaLabel: title,
		content: el( Content ),
		edit: el( Content ),
		canMakePayment: function () {
			return true;
		},
		supports: { features: data.supports || [ 'products' ] },
	} );
} )();
