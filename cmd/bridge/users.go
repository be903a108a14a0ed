package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"paybridge/internal/checkout"
	"paybridge/internal/console"
	"paybridge/internal/store"
)

// stdin is where `users add` reads the password (tests replace it).
var stdin io.Reader = os.Stdin

const usersUsage = `usage:
  bridge users add --email EMAIL [--shop SHOP_ID]   add a console user; the password is read from standard input
  bridge users list [--json]                        list the console's users
  bridge users remove --email EMAIL                 remove a user and end their sessions
`

// cmdUsers is `bridge users`: the people who sign in to the console at
// /admin. Without --shop a user is an operator and sees every shop; with
// it a merchant who sees only that shop.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return dispatch(ctx, "users", usersUsage, []subcommand{{"add", usersAdd}, {"list", usersList}, {"remove", usersRemove}}, args, stdout, stderr)
}

func usersAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users add", "--email EMAIL [--shop SHOP_ID]",
		fmt.Sprintf("Adds a console user. The password is read from standard input (its first line;\n%d to %d characters) and stored as an argon2id hash. Without --shop the user\nis an operator who sees every shop; with it, a merchant who sees only that shop.", console.MinPasswordLen, console.MaxPasswordLen), stderr)
	email := fs.String("email", "", "the user's e-mail address, their sign-in name (required)")
	shop := fs.String("shop", "", "make the user a merchant of this shop")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("users add: unexpected arguments %q", fs.Args())
	}
	addr, err := checkEmail(*email)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	pw, err := readPassword(stdin)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	hash, err := console.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	shopID := strings.TrimSpace(*shop)
	if shopID != "" {
		if _, err := a.db.Shop(ctx, shopID); errors.Is(err, checkout.ErrNotFound) {
			return fmt.Errorf("users add: --shop %s: no such shop (see `bridge shops list`)", shopID)
		}
	}
	u := &store.User{ID: checkout.NewID("usr"), Email: addr, PasswordHash: hash, ShopID: shopID}
	if err := a.db.CreateUser(ctx, u); err != nil {
		if errors.Is(err, checkout.ErrDuplicate) {
			return fmt.Errorf("users add: %s already has an account (remove it first to replace it)", u.Email)
		}
		return err
	}
	role := "operator (every shop)"
	if shopID != "" {
		role = "merchant of shop " + shopID
	}
	fmt.Fprintf(stdout, "added %s, %s; sign in at %s/admin\n", u.Email, role, a.cfg.PublicURL)
	return nil
}

// checkEmail returns the normalized address, or says what is wrong.
func checkEmail(email string) (string, error) {
	e := store.NormalizeEmail(email)
	if e == "" {
		return "", errors.New("--email is required")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || len(e) > 254 {
		return "", fmt.Errorf("--email %q: want a plain address such as ops@example.com", email)
	}
	return e, nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input (pipe it in, e.g. `pwgen -s 24 1 | bridge users add …`)")
	}
	return pw, nil
}

func usersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users list", "[--json]", "Lists the console's users: operators first, then merchants.", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	us, err := a.db.Users(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Email     string    `json:"email"`
		Role      string    `json:"role"`
		ShopID    string    `json:"shop_id,omitempty"`
		CreatedAt time.Time `json:"created_at"`
	}
	rows := []row{}
	for _, u := range us {
		r := row{Email: u.Email, Role: "operator", ShopID: u.ShopID, CreatedAt: u.CreatedAt}
		if !u.Operator() {
			r.Role = "merchant"
		}
		rows = append(rows, r)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no users: add one with `bridge users add --email EMAIL`")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tROLE\tSHOP\tCREATED")
	for _, r := range rows {
		shop := r.ShopID
		if shop == "" {
			shop = "(all)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Email, r.Role, shop, r.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func usersRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("users remove", "--email EMAIL", "Removes a console user; their sessions end at once.", stderr)
	email := fs.String("email", "", "the user's e-mail address (required)")
	if done, err := parseFlags(fs, args, stdout); done || err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("users remove: unexpected arguments %q", fs.Args())
	}
	e := store.NormalizeEmail(*email)
	if e == "" {
		return errors.New("users remove: --email is required")
	}
	a, err := openStore(ctx, stderr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.db.RemoveUser(ctx, e); err != nil {
		if errors.Is(err, checkout.ErrNotFound) {
			return fmt.Errorf("users remove: no user %s", e)
		}
		return err
	}
	fmt.Fprintf(stdout, "removed %s\n", e)
	return nil
}
