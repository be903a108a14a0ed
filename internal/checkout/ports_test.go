package checkout

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestGatewayErrorConstructors(t *testing.T) {
	tests := []struct {
		err       *GatewayError
		msg       string
		temporary bool
	}{
		{TransportError("upay", "UPayments", "charge", errors.New("dial tcp: refused")), "could not reach UPayments", true},
		{TransportError("upay", "UPayments", "charge", fmt.Errorf("read: %w", context.DeadlineExceeded)), "UPayments did not answer in time", true},
		{TransportError("kupay", "KuPay", "status", context.Canceled), "the call to KuPay was canceled", true},
		{RequestError("cko", "Checkout.com", "charge", errors.New("bad url")), "invalid request to Checkout.com: bad url", false},
		{AnswerError("cko", "Checkout.com", "status", errors.New("eof")), "Checkout.com sent an answer we cannot read", false},
	}
	for _, tt := range tests {
		if tt.err.Message != tt.msg || tt.err.Temporary != tt.temporary || tt.err.Unwrap() == nil {
			t.Errorf("%+v: want %q temporary=%v", tt.err, tt.msg, tt.temporary)
		}
	}
}
