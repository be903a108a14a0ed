<?php
/**
 * Translations for ar (WordPress 6.5+ PHP translation file), compiled from
 * paybridge-upayments-ar.po by ../../i18n: edit the .po, then run
 * go run ./internal/platforms/woocommerce/plugin/i18n from the module root.
 *
 * @package Paybridge_UPayments
 */

return array(
	'domain'       => 'paybridge-upayments',
	'language'     => 'ar',
	'plural-forms' => 'nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);',
	'messages'     => array(
		'Online payment (paybridge)' => 'الدفع الإلكتروني (paybridge)',
		'Enable' => 'تفعيل',
		'Enable payments via paybridge' => 'تفعيل الدفع عبر paybridge',
		'Title' => 'العنوان',
		'Description' => 'الوصف',
		'Pay online' => 'ادفع إلكترونيًا',
		'You will be taken to the payment gateway\'s secure page to pay.' => 'سيتم نقلك إلى صفحة بوابة الدفع الآمنة لإتمام الدفع.',
		'Bridge URL' => 'عنوان خدمة الدفع',
		'Shop ID' => 'معرّف المتجر',
		'Shared secret' => 'المفتاح السري المشترك',
		'Order not found.' => 'لم يتم العثور على الطلب.',
		'Refund amount missing.' => 'مبلغ الاسترداد مفقود.',
		'Could not reach the payment service. No refund was made.' => 'تعذّر الوصول إلى خدمة الدفع. لم يتم أي استرداد.',
		'Refund sent to the payment gateway; its result will be added as a note.' => 'أُرسل طلب الاسترداد إلى بوابة الدفع، وستُضاف نتيجته كملاحظة.',
		'The refund is more than what is left to refund on this payment.' => 'مبلغ الاسترداد أكبر من المبلغ المتبقي القابل للاسترداد لهذه الدفعة.',
		'Refund refused: %s' => 'رُفض الاسترداد: %s',
		'Paid after cancellation: check stock' => 'دُفع بعد الإلغاء: تحقّق من المخزون',
		'Paid amount differs from the order total' => 'المبلغ المدفوع يختلف عن إجمالي الطلب',
		'Possibly paid twice' => 'ربما دُفع مرتين',
		'Payment needs attention' => 'الدفعة تحتاج إلى مراجعة',
		'KNET' => 'كي نت',
		'Credit or debit card' => 'بطاقة ائتمان أو خصم',
		'Apple Pay' => 'Apple Pay',
		'Google Pay' => 'Google Pay',
		'Samsung Pay' => 'Samsung Pay',
		'Payment methods' => 'طرق الدفع',
		'Offer %s as its own choice at checkout' => 'اعرض %s كخيار مستقل عند الدفع',
		'For a UPayments white-label account: tick the methods your account has. Leave all unticked for a non-white-label account: shoppers then see one "UPayments" choice and pick the method on the UPayments page.' => 'لحساب UPayments بعلامة بيضاء: اختر طرق الدفع المفعّلة في حسابك. اترك الكل دون تحديد لحساب عادي: يرى المتسوّق عندها خيارًا واحدًا "UPayments" ويختار طريقة الدفع في صفحة UPayments.',
		'Saved cards' => 'البطاقات المحفوظة',
		'Offer logged-in customers "Save my card for next time" (the gateway keeps the card; returning customers see their saved cards)' => 'اعرض على العملاء المسجّلين خيار "احفظ بطاقتي للمرة القادمة" (تحفظ بوابة الدفع البطاقة، ويرى العملاء العائدون بطاقاتهم المحفوظة)',
		'Save my card for next time' => 'احفظ بطاقتي للمرة القادمة',
		'Payment links' => 'روابط الدفع',
		'How the order action "Send payment link (paybridge)" delivers the link on orders made in the admin or by phone. The link is always added to the order notes.' => 'كيف يُرسل إجراء الطلب "إرسال رابط الدفع (paybridge)" الرابط للطلبات المنشأة من لوحة التحكم أو عبر الهاتف. يُضاف الرابط دائمًا إلى ملاحظات الطلب.',
		'By e-mail' => 'بالبريد الإلكتروني',
		'By SMS' => 'برسالة نصية',
		'By e-mail and SMS' => 'بالبريد الإلكتروني والرسالة النصية',
		'Do not send: only add the link to the order notes' => 'لا تُرسل: أضف الرابط إلى ملاحظات الطلب فقط',
		'This choice uses the settings of "Online payment (paybridge)", where its method is ticked.' => 'يستخدم هذا الخيار إعدادات "الدفع الإلكتروني (paybridge)"، حيث تُحدَّد طريقة الدفع الخاصة به.',
		'Send payment link (paybridge)' => 'إرسال رابط الدفع (paybridge)',
		'Could not reach the payment service. No payment link was sent.' => 'تعذّر الوصول إلى خدمة الدفع. لم يُرسل أي رابط دفع.',
		'No payment link was sent: %s' => 'لم يُرسل رابط الدفع: %s',
		'Payment link made: %s' => 'تم إنشاء رابط الدفع: %s',
		'Shoppers pay on the hosted page of the gateway connected to this store at paybridge (UPayments, Checkout.com KNET or KuPay). The paybridge service confirms every payment with the gateway and updates the order.' => 'يدفع المتسوّقون على صفحة بوابة الدفع المرتبطة بهذا المتجر في paybridge (UPayments أو Checkout.com KNET أو KuPay). تتحقق خدمة paybridge من كل دفعة مع البوابة وتحدّث الطلب.',
		'The address of the paybridge service, e.g. https://pay.example.com' => 'عنوان خدمة paybridge، مثل https://pay.example.com',
		'Shown once by paybridge when you connected the store.' => 'عرضته paybridge مرة واحدة عند ربط المتجر.',
		'Your payment was declined or could not be completed, and you have not been charged. You can try again or choose another payment method.' => 'رُفضت عملية الدفع أو تعذّر إتمامها، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى.',
		'You cancelled the payment, and you have not been charged. You can try again or choose another payment method.' => 'لقد ألغيت عملية الدفع، ولم يُخصم منك أي مبلغ. يمكنك المحاولة مرة أخرى أو اختيار طريقة دفع أخرى.',
		'The time to complete the payment ran out, and you have not been charged. Please try again.' => 'انتهت المهلة المتاحة لإتمام عملية الدفع، ولم يُخصم منك أي مبلغ. يُرجى المحاولة مرة أخرى.',
	),
);
