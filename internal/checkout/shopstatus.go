package checkout

import (
	"context"
	"errors"
	"fmt"
)

// ShopStatus is where a shop stands, as the store keeps it. The values are
// shown to operators and stored: never rename them.
type ShopStatus string

// Shop statuses. A shop is connecting while its platform's connection is
// not finished (WooCommerce: wc-auth has not sent the keys, or the webhook
// is not registered yet), then connected. An operator may disable it
// (ShopDisabled: no new payments, see [ErrShopDisabled]) and enable it
// again, or remove it (ShopRemoved: its secrets are erased, its payments
// kept as the financial record).
const (
	ShopConnecting ShopStatus = "connecting"
	ShopConnected  ShopStatus = "connected"
	ShopDisabled   ShopStatus = "disabled"
	ShopRemoved    ShopStatus = "removed"
)

// SettingConnection is the Settings key under which a platform that
// connects a shop in steps keeps its progress (the woocommerce platform's
// SettingStatus). Any value but "" and "connected" means connecting; see
// [ConnectionStatus].
const SettingConnection = "status"

// ConnectionStatus is the status a shop with these settings has when no
// operator disabled or removed it: ShopConnecting while
// Settings[SettingConnection] says the platform's connection is not
// finished, else ShopConnected.
func ConnectionStatus(settings map[string]string) ShopStatus {
	switch settings[SettingConnection] {
	case "", string(ShopConnected):
		return ShopConnected
	}
	return ShopConnecting
}

// TakesPayments reports whether a shop in this status may start new
// payments. The zero value (a shop not read from the store) may.
func (s ShopStatus) TakesPayments() bool { return s != ShopDisabled && s != ShopRemoved }

// ErrShopDisabled is the refusal of a new payment for a shop an operator
// disabled (or removed). Its text is written for a merchant; platforms
// word it for shoppers. Payments started before keep being confirmed,
// synced and refunded.
var ErrShopDisabled = errors.New("the shop is disabled: it cannot start new payments (payments already started are still completed)")

// refuseDisabledShop returns an error wrapping [ErrShopDisabled] when shop
// may not start the payment for orderID: its status refuses new payments
// and no payment exists for that order. A request repeated for a payment
// that exists (a platform's retry, a shopper's second click) goes on, so
// that the answer of a payment started before the shop was disabled is
// never lost.
func (s *Service) refuseDisabledShop(ctx context.Context, shop *Shop, orderID string) error {
	if shop.Status.TakesPayments() {
		return nil
	}
	_, err := s.store.PaymentByOrder(ctx, shop.ID, orderID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound) && shop.Status == ShopRemoved:
		return fmt.Errorf("shop %s was removed: %w", shop.ID, ErrShopDisabled)
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("shop %s: %w", shop.ID, ErrShopDisabled)
	}
	return err
}
