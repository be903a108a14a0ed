<?php
/**
 * Arabic translations (WordPress 6.5+ PHP translation file; the .po beside
 * it is the source for older versions).
 *
 * @package Paybridge_UPayments
 */

return array(
	'domain'   => 'paybridge-upayments',
	'language' => 'ar',
	'messages' => array(
		'Online payment (paybridge)'                => 'الدفع الإلكتروني (paybridge)',
		'Enable'                                    => 'تفعيل',
		'Enable payments via paybridge'             => 'تفعيل الدفع عبر paybridge',
		'Title'                                     => 'العنوان',
		'Description'                               => 'الوصف',
		'Pay online'                                => 'ادفع إلكترونيًا',
		'You will be taken to the payment gateway\'s secure page to pay.' => 'سيتم نقلك إلى صفحة بوابة الدفع الآمنة لإتمام الدفع.',
		'Bridge URL'                                => 'عنوان خدمة الدفع',
		'Shop ID'                                   => 'معرّف المتجر',
		'Shared secret'                             => 'المفتاح السري المشترك',
		'Order not found.'                          => 'لم يتم العثور على الطلب.',
		'Refund amount missing.'                    => 'مبلغ الاسترداد مفقود.',
		'Could not reach the payment service. No refund was made.' => 'تعذّر الوصول إلى خدمة الدفع. لم يتم أي استرداد.',
		'Refund sent to the payment gateway; its result will be added as a note.' => 'أُرسل طلب الاسترداد إلى بوابة الدفع، وستُضاف نتيجته كملاحظة.',
		'The refund is more than what is left to refund on this payment.' => 'مبلغ الاسترداد أكبر من المبلغ المتبقي القابل للاسترداد لهذه الدفعة.',
		'Refund refused: %s'                        => 'رُفض الاسترداد: %s',
		'Paid after cancellation: check stock'      => 'دُفع بعد الإلغاء: تحقّق من المخزون',
		'Paid amount differs from the order total'  => 'المبلغ المدفوع يختلف عن إجمالي الطلب',
		'Possibly paid twice'                       => 'ربما دُفع مرتين',
		'Payment needs attention'                   => 'الدفعة تحتاج إلى مراجعة',
	),
);
