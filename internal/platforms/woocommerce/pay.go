package woocommerce

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"paybridge/internal/checkout"
	"paybridge/internal/routes"
	"paybridge/internal/server"
)

// refusal is why a pay link is not honoured.
type refusal int

const (
	refuseBadLink refusal = iota
	refuseWrongKey
	refuseAlreadyPaid
	refuseNotPayable
	refuseChangedTotal
	refuseUnknownOrder
	refuseAmount
	refuseStoreDown
	refuseUnknownShop
	refuseSplit
	refuseShopDisabled
)

type refusalText struct{ heading, message string }

var refusals = map[string]map[refusal]refusalText{
	"en": {
		refuseBadLink:      {"This payment link is not valid", "The link that brought you here was changed or is incomplete, so we cannot take a payment with it. Please return to the store and start the payment again."},
		refuseWrongKey:     {"This payment link is not valid", "This link does not match the order it names, so we cannot take a payment with it. Please return to the store and open the order from your account or your e-mail."},
		refuseAlreadyPaid:  {"This order is already paid", "We already received the payment for this order, so you do not need to pay again. Please return to the store to see your order."},
		refuseNotPayable:   {"This order cannot be paid now", "The store no longer accepts a payment for this order (it may have been cancelled or completed). Please contact the store."},
		refuseChangedTotal: {"The order total has changed", "The order's total changed after this payment was started, so we stopped it to make sure you pay the right amount. Please contact the store."},
		refuseUnknownOrder: {"Order not found", "The store does not know this order. Please return to the store and try again."},
		refuseAmount:       {"This order cannot be paid here", "The order's amount or currency cannot be paid with this payment method. Please contact the store."},
		refuseStoreDown:    {"The store is not answering", "We could not reach the store to check your order. No payment was taken. Please try again in a few minutes."},
		refuseUnknownShop:  {"Store not found", "This store is not connected to the payment service. Please contact the store."},
		refuseSplit:        {"This order cannot be paid online right now", "The store's payment details for this order are not valid, so no payment was taken. The store has been told. Please contact the store."},
		refuseShopDisabled: {"This store cannot take payments right now", "Online payment is turned off for this store at the moment, so no payment was taken. Please contact the store."},
	},
	"ar": {
		refuseBadLink:      {"رابط الدفع هذا غير صالح", "تم تغيير الرابط الذي أوصلك إلى هنا أو أنه غير مكتمل، لذلك لا يمكننا قبول الدفع من خلاله. يُرجى العودة إلى المتجر وبدء عملية الدفع من جديد."},
		refuseWrongKey:     {"رابط الدفع هذا غير صالح", "هذا الرابط لا يطابق الطلب المذكور فيه، لذلك لا يمكننا قبول الدفع من خلاله. يُرجى العودة إلى المتجر وفتح الطلب من حسابك أو من بريدك الإلكتروني."},
		refuseAlreadyPaid:  {"تم دفع هذا الطلب مسبقًا", "لقد استلمنا الدفع لهذا الطلب، فلا حاجة إلى الدفع مرة أخرى. يُرجى العودة إلى المتجر لعرض طلبك."},
		refuseNotPayable:   {"لا يمكن دفع هذا الطلب الآن", "لم يعد المتجر يقبل الدفع لهذا الطلب (ربما أُلغي أو اكتمل). يُرجى التواصل مع المتجر."},
		refuseChangedTotal: {"تغيّر إجمالي الطلب", "تغيّر إجمالي الطلب بعد بدء عملية الدفع، لذلك أوقفناها لضمان دفع المبلغ الصحيح. يُرجى التواصل مع المتجر."},
		refuseUnknownOrder: {"لم يتم العثور على الطلب", "المتجر لا يعرف هذا الطلب. يُرجى العودة إلى المتجر والمحاولة مرة أخرى."},
		refuseAmount:       {"لا يمكن دفع هذا الطلب هنا", "لا يمكن دفع مبلغ هذا الطلب أو عملته بطريقة الدفع هذه. يُرجى التواصل مع المتجر."},
		refuseStoreDown:    {"المتجر لا يستجيب", "تعذّر علينا الوصول إلى المتجر للتحقق من طلبك، ولم يُخصم أي مبلغ. يُرجى المحاولة مرة أخرى بعد بضع دقائق."},
		refuseUnknownShop:  {"لم يتم العثور على المتجر", "هذا المتجر غير مرتبط بخدمة الدفع. يُرجى التواصل مع المتجر."},
		refuseSplit:        {"لا يمكن دفع هذا الطلب إلكترونيًا الآن", "بيانات الدفع التي أعدّها المتجر لهذا الطلب غير صالحة، لذلك لم يُخصم أي مبلغ. تم إبلاغ المتجر. يُرجى التواصل مع المتجر."},
		refuseShopDisabled: {"لا يمكن لهذا المتجر قبول المدفوعات الآن", "الدفع الإلكتروني متوقف لهذا المتجر في الوقت الحالي، لذلك لم يُخصم أي مبلغ. يُرجى التواصل مع المتجر."},
	},
}

func payLang(c *gin.Context) string {
	if l := c.Query("lang"); l != "" {
		if strings.HasPrefix(strings.ToLower(l), "ar") {
			return "ar"
		}
		return "en"
	}
	return server.PreferredLang(c.GetHeader("Accept-Language"))
}

func (p *Platform) refuse(c *gin.Context, status int, lang string, r refusal, link string, why error) {
	if why != nil {
		_ = c.Error(why)
	}
	t := refusals[lang][r]
	page := server.Page{Lang: lang, Heading: t.heading, Message: t.message, Kind: server.KindError, LinkURL: link}
	if r == refuseAlreadyPaid {
		page.Kind = server.KindInfo
	}
	server.RenderPage(c, status, page)
}

// attemptOrderID is the checkout order id of the n-th payment attempt for
// a WooCommerce order: "123", then "123-2", "123-3" … (a failed or
// cancelled attempt is final, and the shopper may try again).
func attemptOrderID(wcID string, n int) string {
	if n <= 1 {
		return wcID
	}
	return wcID + "-" + strconv.Itoa(n)
}

const maxAttempts = 50

// attempts returns the payments made for a WooCommerce order, oldest first.
func (p *Platform) attempts(ctx context.Context, shopID, wcID string) ([]*checkout.Payment, error) {
	var out []*checkout.Payment
	for n := 1; n <= maxAttempts; n++ {
		pay, err := p.store.PaymentByOrder(ctx, shopID, attemptOrderID(wcID, n))
		if errors.Is(err, checkout.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, pay)
	}
	return out, nil
}

var paidStatuses = map[string]bool{"processing": true, "completed": true}

func isPaid(o *Order) bool {
	return paidStatuses[o.Status] || (o.DatePaid != nil && *o.DatePaid != "")
}

// pay is the plugin's link: verify, read the order, create or reuse the
// payment, send the shopper to the gateway.
func (p *Platform) pay(c *gin.Context) {
	ctx := c.Request.Context()
	lang := payLang(c)
	shopID, orderID := c.Param("shop"), c.Param("order")
	key, sig, ret := c.Query("key"), c.Query("sig"), c.Query("return")
	choices := PayChoices{Method: c.Query(paramMethod), SaveCard: c.Query(paramSaveCard) == "1", Splits: c.Query(paramSplits)}
	if !checkout.ValidID("shop", shopID) {
		p.refuse(c, http.StatusNotFound, lang, refuseUnknownShop, "", nil)
		return
	}
	shop, err := p.store.Shop(ctx, shopID)
	if err != nil || shop.Platform != checkout.PlatformWooCommerce {
		if err != nil && !errors.Is(err, checkout.ErrNotFound) {
			p.fail(c, lang, err)
			return
		}
		p.refuse(c, http.StatusNotFound, lang, refuseUnknownShop, "", nil)
		return
	}
	storeLink := shop.Domain
	secret := shop.Secrets[SecretPlugin]
	if _, err := strconv.ParseUint(orderID, 10, 63); err != nil || secret == "" || key == "" ||
		!verifyHex(PayLinkSignature(secret, shop.ID, orderID, key, ret, choices), sig) {
		p.refuse(c, http.StatusForbidden, lang, refuseBadLink, storeLink, errors.New("woocommerce pay link: bad signature"))
		return
	}
	if ret != "" && !sameSite(ret, shop.Domain) {
		p.refuse(c, http.StatusForbidden, lang, refuseBadLink, storeLink, fmt.Errorf("woocommerce pay link: return URL %q is not on the store", ret))
		return
	}
	cl, err := clientFor(shop, p.cfg.Timeout)
	if err != nil {
		p.refuse(c, http.StatusServiceUnavailable, lang, refuseUnknownShop, storeLink, err)
		return
	}
	o, err := cl.Order(ctx, orderID)
	if err != nil {
		if IsNotFound(err) {
			p.refuse(c, http.StatusNotFound, lang, refuseUnknownOrder, storeLink, err)
			return
		}
		p.refuse(c, http.StatusBadGateway, lang, refuseStoreDown, storeLink, fmt.Errorf("read order %s: %w", orderID, err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(o.OrderKey), []byte(key)) != 1 {
		p.refuse(c, http.StatusForbidden, lang, refuseWrongKey, storeLink, fmt.Errorf("order %s: wrong order key", orderID))
		return
	}
	returnURL, cancelURL := orderURLs(shop.Domain, o, ret)
	if isPaid(o) {
		p.refuse(c, http.StatusConflict, lang, refuseAlreadyPaid, returnURL, nil)
		return
	}
	if !o.needsPayment() {
		p.refuse(c, http.StatusConflict, lang, refuseNotPayable, storeLink, fmt.Errorf("order %s is %s and does not need payment", orderID, o.Status))
		return
	}
	amount, err := ParseTotal(o.Total, strings.ToUpper(o.Currency))
	if err != nil || amount.Minor <= 0 {
		p.refuse(c, http.StatusUnprocessableEntity, lang, refuseAmount, cancelURL, fmt.Errorf("order %s total %q %s: %w", orderID, o.Total, o.Currency, err))
		return
	}
	prior, err := p.attempts(ctx, shop.ID, orderID)
	if err != nil {
		p.fail(c, lang, err)
		return
	}
	n := len(prior) + 1
	if len(prior) > 0 {
		last := prior[len(prior)-1]
		switch {
		case last.Status == checkout.StatusPaid:
			p.refuse(c, http.StatusConflict, lang, refuseAlreadyPaid, returnURL, nil)
			return
		case !last.Status.Final() && last.Options.Invoice == nil:
			if !last.Amount.Equal(amount) {
				p.refuse(c, http.StatusConflict, lang, refuseChangedTotal, cancelURL,
					fmt.Errorf("order %s: open payment %s is for %s %s, the order now totals %s", orderID, last.ID, last.Amount, last.Amount.Currency, amount))
				return
			}
			if last.Metadata[pmChoices] == choices.fingerprint() {
				p.redirect(c, lang, last.ID)
				return
			}
			// The shopper came back and chose another method (or to
			// save the card): a new attempt; the open one expires.
		}
		// An open invoice stays payable through its own link; the
		// shopper paying at checkout gets a new attempt.
		if n > maxAttempts {
			p.refuse(c, http.StatusConflict, lang, refuseNotPayable, storeLink, fmt.Errorf("order %s: too many attempts", orderID))
			return
		}
	}
	// What the shop's gateway cannot charge (a currency it does not take,
	// an amount its rules refuse) is refused here, before any gateway call.
	if err := p.svc.CheckPayment(shop.Gateway.Gateway, amount); err != nil {
		var ue *checkout.UnsupportedError
		if errors.As(err, &ue) {
			p.refuseUnsupported(c, lang, shop, orderID, amount, ue, storeLink)
			return
		}
		p.fail(c, lang, err)
		return
	}
	method, err := p.chooseMethod(ctx, shop, choices.Method)
	if err != nil {
		var ue *checkout.UnsupportedError
		if errors.As(err, &ue) {
			p.refuseUnsupported(c, lang, shop, orderID, amount, ue, storeLink)
			return
		}
		p.fail(c, lang, err)
		return
	}
	splits, err := ParseSplits(choices.Splits, amount.Currency)
	if err != nil {
		p.refuseSplits(c, lang, shop, orderID, err, storeLink)
		return
	}
	req := checkout.PaymentRequest{
		OrderID:     attemptOrderID(orderID, n),
		Amount:      amount,
		Description: "Order #" + firstNonEmpty(o.Number, orderID),
		Language:    lang,
		Customer: checkout.Customer{
			Name:  strings.TrimSpace(o.Billing.FirstName + " " + o.Billing.LastName),
			Email: o.Billing.Email, Mobile: o.Billing.Phone,
		},
		Products:      products(o, amount.Currency),
		ReturnURL:     returnURL,
		CancelURL:     cancelURL,
		PaymentMethod: method,
		Metadata: map[string]string{pmOrderID: orderID, pmOrderKey: o.OrderKey,
			pmAttempt: strconv.Itoa(n), pmChoices: choices.fingerprint()},
		Options: checkout.Options{Splits: splits},
		// A shopper is never refused for an over-long name or e-mail.
		Fit: true,
	}
	// A logged-in customer is known to the gateway, so that the page shows
	// their saved cards; saving one is asked only where the gateway keeps
	// them (elsewhere the box is ignored: the shopper still pays).
	req.Customer.UniqueID = customerUniqueID(shop, o.CustomerID)
	if choices.SaveCard && req.Customer.UniqueID != "" && p.svc.Supports(shop.Gateway.Gateway, checkout.FeatureSavedCards) == nil {
		req.Options.SaveCard = true
	}
	if len(splits) > 0 {
		if err := p.svc.Supports(shop.Gateway.Gateway, checkout.FeatureSplits); err != nil {
			p.refuseSplits(c, lang, shop, orderID, err, storeLink)
			return
		}
	}
	pay, _, err := p.svc.CreatePayment(ctx, shop, checkout.PlatformWooCommerce, req, "shopper")
	if errors.Is(err, checkout.ErrIdempotencyConflict) && pay != nil {
		// Another click raced us with other details (language …).
		if !pay.Status.Final() && pay.Amount.Equal(amount) {
			p.redirect(c, lang, pay.ID)
			return
		}
		p.refuse(c, http.StatusConflict, lang, refuseChangedTotal, cancelURL, err)
		return
	}
	if err != nil {
		var ve *checkout.ValidationError
		var ue *checkout.UnsupportedError
		switch {
		case errors.Is(err, checkout.ErrShopDisabled):
			p.refuse(c, http.StatusForbidden, lang, refuseShopDisabled, cancelURL, err)
		case errors.As(err, &ue):
			p.refuseUnsupported(c, lang, shop, orderID, amount, ue, storeLink)
		case errors.As(err, &ve) && strings.HasPrefix(ve.Field, "splits"):
			p.refuseSplits(c, lang, shop, orderID, err, storeLink)
		case errors.As(err, &ve):
			p.refuse(c, http.StatusUnprocessableEntity, lang, refuseAmount, cancelURL, err)
		default:
			p.fail(c, lang, err)
		}
		return
	}
	p.redirect(c, lang, pay.ID)
}

// refuseUnsupported shows the shopper why the shop's gateway cannot take
// this order (naming the gateway, in English or Arabic) and leaves the
// merchant a note on the order saying so, once per order.
func (p *Platform) refuseUnsupported(c *gin.Context, lang string, shop *checkout.Shop, orderID string, amount checkout.Money, ue *checkout.UnsupportedError, link string) {
	_ = c.Error(fmt.Errorf("woocommerce order %s: %w", orderID, ue))
	caps, _ := p.svc.Capabilities(ue.Gateway)
	name := firstNonEmpty(caps.DisplayName, ue.Gateway)
	page := server.Page{Lang: lang, Kind: server.KindError, LinkURL: link}
	if lang == "ar" {
		page.Heading = "لا يمكن دفع هذا الطلب عبر " + name
		why := fmt.Sprintf("لا تقبل بوابة الدفع %s مبلغ %s %s.", name, amount, amount.Currency)
		if ue.Feature == checkout.FeatureCurrency {
			why = fmt.Sprintf("بوابة الدفع %s لا تقبل عملة %s.", name, amount.Currency)
			if len(caps.Currencies) > 0 {
				why = fmt.Sprintf("بوابة الدفع %s لا تقبل عملة %s (العملات المقبولة: %s).", name, amount.Currency, strings.Join(caps.Currencies, "، "))
			}
		}
		page.Message = why + " لم يُخصم أي مبلغ. يُرجى التواصل مع المتجر."
	} else {
		page.Heading = "This order cannot be paid with " + name
		page.Message = strings.TrimSuffix(ue.Reason, ".") + ". No payment was taken. Please contact the store."
	}
	server.RenderPage(c, http.StatusUnprocessableEntity, page)
	p.noteRefusal(shop, orderID, refusalMarker, "The shopper could not pay this order: "+strings.TrimSuffix(ue.Reason, ".")+". No payment was taken; "+
		"the order is unchanged. Change the order's currency or total, or the shop's payment gateway at paybridge, or the methods the plugin offers.")
}

// refuseSplits tells the shopper the order cannot be paid online (the
// store's split is wrong, through no fault of theirs) and the merchant,
// in a note, which share and field is wrong.
func (p *Platform) refuseSplits(c *gin.Context, lang string, shop *checkout.Shop, orderID string, why error, link string) {
	p.refuse(c, http.StatusUnprocessableEntity, lang, refuseSplit, link, fmt.Errorf("woocommerce order %s: %w", orderID, why))
	p.noteRefusal(shop, orderID, splitRefusalMarker, "The shopper could not pay this order: its vendor split (order meta _paybridge_splits or the paybridge_splits filter) "+
		"was refused: "+strings.TrimSuffix(why.Error(), ".")+". No payment was taken; the order is unchanged. Fix the split, then send the shopper the order's payment link.")
}

// refusalMarker ends the note left on an order the shop's gateway cannot
// charge, splitRefusalMarker the one on an order whose split is refused;
// an order gets at most one of each.
const (
	refusalMarker      = "[paybridge refused]"
	splitRefusalMarker = "[paybridge refused split]"
)

// noteRefusal adds, in the background, a note telling the merchant why the
// shopper could not pay the order, unless the order has one with the
// marker already.
func (p *Platform) noteRefusal(shop *checkout.Shop, orderID, marker, text string) {
	key := shop.ID + "/" + orderID + marker
	if _, busy := p.noting.LoadOrStore(key, true); busy {
		return
	}
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		defer p.noting.Delete(key)
		ctx, cancel := context.WithTimeout(context.Background(), 2*p.cfg.Timeout)
		defer cancel()
		cl, err := clientFor(shop, p.cfg.Timeout)
		if err != nil {
			return
		}
		notes, err := cl.Notes(ctx, orderID)
		if err == nil && !hasNote(notes, marker) {
			err = cl.AddNote(ctx, orderID, text+" "+marker)
		}
		if err != nil {
			p.log.Warn("woocommerce: note a refused payment", "shop", shop.ID, "order", orderID, "err", err)
		}
	}()
}

func (p *Platform) redirect(c *gin.Context, lang, paymentID string) {
	to, pay, err := p.svc.Redirect(c.Request.Context(), paymentID)
	if err != nil {
		p.fail(c, lang, err)
		return
	}
	if to == "" { // final already: the shopper routes show or forward it
		to = routes.WaitURL(p.cfg.PublicURL, pay.ID)
	}
	c.Header("Cache-Control", "no-store")
	c.Redirect(http.StatusFound, to)
}

func (p *Platform) fail(c *gin.Context, lang string, err error) {
	_ = c.Error(err)
	status := http.StatusInternalServerError
	var ge *checkout.GatewayError
	if errors.As(err, &ge) {
		status = http.StatusBadGateway
	}
	server.RenderPage(c, status, server.ShopperPage(lang, server.ShopperError, "", ""))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// products lists the order's lines for the gateway's receipt, with prices
// only when every one is exact in the currency (line_items[].price is
// total/quantity and may need rounding); otherwise none.
func products(o *Order, currency string) []checkout.Product {
	var out []checkout.Product
	for _, li := range o.LineItems {
		if li.Quantity <= 0 {
			return nil
		}
		m, err := ParseTotal(li.Price.String(), currency)
		if err != nil {
			return nil
		}
		out = append(out, checkout.Product{Name: li.Name, Price: m, Quantity: li.Quantity})
	}
	return out
}

// sameSite reports whether u is on the store's host (a "www." prefix on
// either side is ignored: merchants often type the store's address without
// it) over http(s).
func sameSite(u, storeURL string) bool {
	a, err1 := url.Parse(u)
	b, err2 := url.Parse(storeURL)
	if err1 != nil || err2 != nil || (a.Scheme != "https" && a.Scheme != "http") {
		return false
	}
	host := func(h string) string { return strings.TrimPrefix(strings.ToLower(h), "www.") }
	return host(a.Host) == host(b.Host)
}

// orderURLs returns where the shopper goes after paying (the order-received
// page) and after failing or cancelling (the checkout's pay page). The
// plugin sends the exact order-received URL (its slug is a store setting);
// without it, it is derived from payment_url.
func orderURLs(storeURL string, o *Order, ret string) (returnURL, cancelURL string) {
	id := strconv.FormatInt(o.ID, 10)
	cancelURL = o.PaymentURL
	if cancelURL == "" || !sameSite(cancelURL, storeURL) {
		cancelURL = storeURL + "/checkout/order-pay/" + id + "/?pay_for_order=true&key=" + url.QueryEscape(o.OrderKey)
	}
	if ret != "" {
		return ret, cancelURL
	}
	if u, err := url.Parse(cancelURL); err == nil && strings.Contains(u.Path, "/order-pay/"+id) {
		u.Path = strings.Replace(u.Path, "/order-pay/"+id, "/order-received/"+id, 1)
		u.RawQuery = url.Values{"key": {o.OrderKey}}.Encode()
		return u.String(), cancelURL
	}
	return storeURL + "/checkout/order-received/" + id + "/?key=" + url.QueryEscape(o.OrderKey), cancelURL
}
