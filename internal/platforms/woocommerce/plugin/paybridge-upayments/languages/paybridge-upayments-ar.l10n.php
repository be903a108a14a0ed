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
		'UPayments (paybridge)'                     => 'يو بيمنتس (paybridge)',
		'Enable'                                    => 'تفعيل',
		'Enable UPayments via paybridge'            => 'تفعيل يو بيمنتس عبر paybridge',
		'Title'                                     => 'العنوان',
		'Description'                               => 'الوصف',
		'Pay with KNET / card (UPayments)'          => 'ادفع بالكي نت / البطاقة (يو بيمنتس)',
		'You will be taken to UPayments\' secure page to pay.' => 'سيتم نقلك إلى صفحة يو بيمنتس الآمنة لإتمام الدفع.',
		'Bridge URL'                                => 'عنوان خدمة الدفع',
		'Shop ID'                                   => 'معرّف المتجر',
		'Shared secret'                             => 'المفتاح السري المشترك',
		'Order not found.'                          => 'لم يتم العثور على الطلب.',
		'Refund amount missing.'                    => 'مبلغ الاسترداد مفقود.',
		'Could not reach the payment service. No refund was made.' => 'تعذّر الوصول إلى خدمة الدفع. لم يتم أي استرداد.',
		'Refund sent to UPayments; its result will be added as a note.' => 'أُرسل طلب الاسترداد إلى يو بيمنتس، وستُضاف نتيجته كملاحظة.',
		'The refund is more than what is left to refund on this payment.' => 'مبلغ الاسترداد أكبر من المبلغ المتبقي القابل للاسترداد لهذه الدفعة.',
		'Refund refused: %s'                        => 'رُفض الاسترداد: %s',
		'Paid after cancellation: check stock'      => 'دُفع بعد الإلغاء: تحقّق من المخزون',
		'Paid amount differs from the order total'  => 'المبلغ المدفوع يختلف عن إجمالي الطلب',
		'Possibly paid twice'                       => 'ربما دُفع مرتين',
		'Payment needs attention'                   => 'الدفعة تحتاج إلى مراجعة',
	),
);
