/* Registers the paybridge choices with the Checkout block: the one
 * "UPayments" choice, or one per method the merchant ticked (KNET, Card,
 * Apple Pay, Google Pay, Samsung Pay); the server sends data only for the
 * choices that show. The block checkout calls the classic gateway's
 * process_payment with the payment data below as $_POST, whose redirect
 * takes the shopper to the bridge. */
( function () {
	var registry = window.wc && window.wc.wcBlocksRegistry;
	var settings = window.wc && window.wc.wcSettings;
	if ( ! registry || ! settings ) {
		return;
	}
	var el = window.wp.element.createElement;
	var useState = window.wp.element.useState;
	var useEffect = window.wp.element.useEffect;
	var decode = window.wp.htmlEntities.decodeEntities;
	var names = [ 'paybridge_upayments', 'paybridge_upayments_knet', 'paybridge_upayments_cc', 'paybridge_upayments_apple_pay',
		'paybridge_upayments_google_pay', 'paybridge_upayments_samsung_pay' ];
	var notice = null;
	names.forEach( function ( name ) {
		var data = settings.getSetting( name + '_data', null );
		if ( ! data ) {
			return;
		}
		if ( data.resultNotice && ! notice ) {
			notice = data;
		}
		var title = decode( data.title || window.wp.i18n.__( 'Pay online', 'paybridge-upayments' ) );
		var Content = function ( props ) {
			var state = useState( false );
			var save = state[ 0 ];
			var setSave = state[ 1 ];
			var reg = props && props.eventRegistration;
			var onSetup = reg && ( reg.onPaymentSetup || reg.onPaymentProcessing );
			useEffect( function () {
				if ( ! onSetup ) {
					return undefined;
				}
				return onSetup( function () {
					return { type: 'success', meta: { paymentMethodData: { paybridge_save_card: data.saveCard && save ? '1' : '' } } };
				} );
			}, [ onSetup, save ] );
			var children = [ el( 'div', { key: 'd' }, decode( data.description || '' ) ) ];
			if ( data.saveCard ) {
				children.push( el( 'label', { key: 's', style: { display: 'block', marginTop: '0.5em' } },
					el( 'input', { type: 'checkbox', checked: save, onChange: function ( ev ) { setSave( ev.target.checked ); } } ),
					' ' + decode( data.saveLabel || '' ) ) );
			}
			return el( 'div', null, children );
		};
		var Edit = function () {
			return el( 'div', null, decode( data.description || '' ) );
		};
		registry.registerPaymentMethod( {
			name: name,
			label: el( 'span', null, title ),
			ariaLabel: title,
			content: el( Content ),
			edit: el( Edit ),
			canMakePayment: function () {
				return true;
			},
			supports: { features: data.supports || [ 'products' ] },
		} );
	} );
	// Back from a payment that did not go through (the bridge said why on
	// the return address): say so above the Checkout block, once.
	var wpData = window.wp.data;
	if ( notice && wpData && wpData.dispatch ) {
		wpData.dispatch( 'core/notices' ).createNotice( notice.resultNoticeKind === 'notice' ? 'info' : 'error', notice.resultNotice, {
			id: 'paybridge-result',
			context: 'wc/checkout',
			isDismissible: true,
		} );
	}
} )();
