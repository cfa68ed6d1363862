package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
)

// deviceLogin signs in with the OAuth 2.0 device authorization grant
// (RFC 8628) at an OIDC issuer: it prints where to go and which code to
// enter, waits for the user to approve, and returns the ID token.
func deviceLogin(ctx context.Context, out io.Writer, hc *http.Client, issuer, clientID string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", fmt.Errorf("--oidc-issuer %q: %w", issuer, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("cannot reach the OIDC issuer %s: %w\n  hint: check --oidc-issuer", issuer, err)
	}
	defer resp.Body.Close()
	var disc struct {
		DeviceEndpoint string `json:"device_authorization_endpoint"`
		TokenEndpoint  string `json:"token_endpoint"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&disc) != nil {
		return "", fmt.Errorf("%s is not an OIDC issuer (no discovery document: %s)\n  hint: check --oidc-issuer", issuer, resp.Status)
	}
	if disc.DeviceEndpoint == "" {
		return "", fmt.Errorf("the OIDC issuer %s does not offer the device flow\n  hint: sign in with --token or --api-key instead", issuer)
	}
	cfg := &oauth2.Config{ClientID: clientID, Scopes: []string{"openid", "profile", "email", "groups"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: disc.DeviceEndpoint, TokenURL: disc.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams}}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		return "", fmt.Errorf("starting the device sign-in: %w", err)
	}
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "To sign in, open %s (code %s)\n", da.VerificationURIComplete, da.UserCode)
	} else {
		fmt.Fprintf(out, "To sign in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "access_denied" {
			return "", errors.New("sign-in was denied at the issuer\n  hint: run vck login again and approve the code")
		}
		if errors.As(err, &re) && re.ErrorCode == "expired_token" {
			return "", fmt.Errorf("the code %s expired before it was approved\n  hint: run vck login again and approve the new code before it expires", da.UserCode)
		}
		return "", fmt.Errorf("device sign-in: %w\n  hint: run vck login again and enter the code before it expires", err)
	}
	id, _ := tok.Extra("id_token").(string)
	if id == "" {
		return "", errors.New("the issuer answered without an ID token (is the openid scope allowed for this client?)")
	}
	return id, nil
}
