/*
 * Offline stand-in for the part of Stripe.js (https://js.stripe.com/v3/) that web/app.js uses.
 * DEV/TEST ONLY: served by dev/stripe_standin/server.py, never deployed, blocked by the production CSP.
 *
 * Implemented: Stripe(pk) -> {elements, confirmPayment, retrievePaymentIntent};
 * elements({clientSecret, appearance}) -> {create('payment'), create('address', {mode}),
 * getElement(), fetchUpdates(), submit()}; element.mount/unmount/on('ready'|'change'|'loaderror');
 * addressElement.getValue(). The Address Element is plain labelled inputs too (#standin-address-*),
 * its values in Stripe's shape ({name, phone?, address: {line1, line2 | null, city, state,
 * postal_code, country}}); in shipping mode, confirmPayment sends them as the PaymentIntent's
 * `shipping`, as Stripe.js does. No autocomplete, no saved addresses.
 *
 * Like Stripe.js, it throws an IntegrationError on misuse (or rejects, from the async methods),
 * and reports a failed load or refresh as Stripe.js does: the `loaderror` event, and
 * fetchUpdates() resolving with {error}. Tests ask for those through sessionStorage (this tab,
 * kept across reloads): `standin:fail` holds a comma-separated list such as
 * "loaderror,fetchUpdates", and each entry makes the next such call fail once.
 * Two test cards reach states localstripe cannot (see server.py): 4000 0000 0000 1117 ends
 * `processing`, 4000 0000 0000 2222 in `requires_action` (verify micro-deposits).
 *
 * The real Payment Element is an iframe the page cannot read; this one is plain labelled inputs in
 * the page so tests can fill them. Card data goes only to the stand-in server (which holds the
 * secret key and drives localstripe), never to our own backend, as with real Stripe.
 * Styles are set through element.style (CSSOM), which a CSP without 'unsafe-inline' allows.
 */
(function () {
  'use strict';

  // The helper server is wherever this script was loaded from.
  const HELPER = new URL(document.currentScript.src).origin;

  async function helper(path, body) {
    let res;
    try {
      res = await fetch(HELPER + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (e) {
      return { error: { type: 'api_connection_error', message: 'Could not reach the Stripe stand-in server.' } };
    }
    return res.json();
  }

  class IntegrationError extends Error {
    constructor(message) { super(message); this.name = 'IntegrationError'; }
  }

  // True once for each `what` listed in sessionStorage['standin:fail'] (see the header).
  function failRequested(what) {
    const list = (sessionStorage.getItem('standin:fail') || '').split(',').filter(Boolean);
    const at = list.indexOf(what);
    if (at < 0) return false;
    list.splice(at, 1);
    sessionStorage.setItem('standin:fail', list.join(','));
    return true;
  }

  function css(el, styles) { Object.assign(el.style, styles); return el; }

  function make(tag, attrs, styles) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') el.textContent = v; else el.setAttribute(k, v);
    }
    return css(el, styles || {});
  }

  // ---- validation, with Stripe's codes and messages ----

  function digits(s) { return s.replace(/\D/g, ''); }

  function luhnOk(number) {
    let sum = 0;
    for (let i = 0; i < number.length; i++) {
      let d = Number(number[number.length - 1 - i]);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function parseExpiry(value) {
    const m = value.replace(/\s/g, '').match(/^(\d{1,2})\/?(\d{2})$/);
    return m ? { month: Number(m[1]), year: 2000 + Number(m[2]) } : null;
  }

  function validationError(code, message) { return { type: 'validation_error', code, message }; }

  // Returns [card, null] or [null, error]. Empty and partial fields are "incomplete", like Stripe.
  function validate(values) {
    const number = digits(values.number);
    if (number.length < 16) return [null, validationError('incomplete_number', 'Your card number is incomplete.')];
    if (number.length > 16 || !luhnOk(number)) return [null, validationError('invalid_number', 'Your card number is invalid.')];
    const exp = parseExpiry(values.expiry);
    if (!exp) return [null, validationError('incomplete_expiry', "Your card's expiration date is incomplete.")];
    if (exp.month < 1 || exp.month > 12) return [null, validationError('invalid_expiry_month', "Your card's expiration date is invalid.")];
    const now = new Date();
    if (exp.year < now.getFullYear()) return [null, validationError('invalid_expiry_year_past', "Your card's expiration year is in the past.")];
    if (exp.year === now.getFullYear() && exp.month < now.getMonth() + 1) {
      return [null, validationError('invalid_expiry_month_past', "Your card's expiration date is in the past.")];
    }
    const cvc = digits(values.cvc);
    if (cvc.length < 3) return [null, validationError('incomplete_cvc', "Your card's security code is incomplete.")];
    return [{ number, exp_month: exp.month, exp_year: exp.year, cvc }, null];
  }

  // ---- what every Element shares: its event handlers, and the element it mounts in ----

  class StandinElement {
    constructor(elements) {
      this._elements = elements;
      this._handlers = {};
      this._root = null;
    }

    on(event, handler) { (this._handlers[event] ||= []).push(handler); return this; }
    off(event, handler) { this._handlers[event] = (this._handlers[event] || []).filter((h) => h !== handler); return this; }
    _emit(event, payload) { for (const h of this._handlers[event] || []) h(payload); }

    _mountPoint(target) {
      const parent = typeof target === 'string' ? document.querySelector(target) : target;
      if (!parent) throw new IntegrationError(`Invalid DOM element. Make sure to call mount() with a valid DOM element or selector (${target}).`);
      return parent;
    }
  }

  // ---- the Payment Element ----

  class PaymentElement extends StandinElement {
    mount(target) {
      const parent = this._mountPoint(target);
      if (failRequested('loaderror')) { // as when Stripe cannot load the Element: nothing shows
        parent.replaceChildren();
        const error = { type: 'api_connection_error', message: 'The Payment Element could not be loaded (stand-in).' };
        setTimeout(() => this._emit('loaderror', { elementType: 'payment', error }), 0);
        return;
      }
      const vars = (this._elements._appearance && this._elements._appearance.variables) || {};
      const radius = vars.borderRadius || '4px';
      const root = make('fieldset', { class: 'standin-payment-element' },
        { border: '1px solid #8a94a3', borderRadius: radius, padding: '12px', margin: '0' });
      root.append(make('legend', { text: 'Card (offline Stripe stand-in, test cards only)' },
        { padding: '0 4px', fontSize: '0.9rem' }));
      const field = (id, label, attrs) => {
        const wrap = make('div', {}, { marginBottom: '8px' });
        wrap.append(make('label', { for: id, text: label }, { display: 'block', fontSize: '0.9rem' }));
        const input = make('input', { id, type: 'text', inputmode: 'numeric', ...attrs },
          { width: '100%', minHeight: '44px', boxSizing: 'border-box', font: 'inherit', padding: '8px',
            border: '1px solid #8a94a3', borderRadius: radius });
        wrap.append(input);
        root.append(wrap);
        return input;
      };
      this._inputs = {
        number: field('standin-card-number', 'Card number', { autocomplete: 'cc-number', placeholder: '1234 1234 1234 1234' }),
        expiry: field('standin-card-expiry', 'Expiration date (MM / YY)', { autocomplete: 'cc-exp', placeholder: 'MM / YY' }),
        cvc: field('standin-card-cvc', 'Security code (CVC)', { autocomplete: 'cc-csc', placeholder: 'CVC' }),
      };
      this._error = make('p', { id: 'standin-card-error', role: 'alert' },
        { color: '#b3261e', margin: '4px 0 0', minHeight: '1.2em' });
      root.append(this._error);
      for (const input of Object.values(this._inputs)) {
        input.addEventListener('input', () => {
          this._error.textContent = '';
          const [card] = validate(this._values());
          const empty = Object.values(this._inputs).every((i) => !i.value);
          this._emit('change', { elementType: 'payment', complete: Boolean(card), empty, collapsed: false, value: { type: 'card' } });
        });
      }
      parent.replaceChildren(root);
      this._root = root;
      setTimeout(() => this._emit('ready', { elementType: 'payment' }), 0); // async, as with Stripe
    }

    unmount() { if (this._root) { this._root.remove(); this._root = null; } }

    _values() {
      const i = this._inputs;
      return { number: i.number.value, expiry: i.expiry.value, cvc: i.cvc.value };
    }

    // Stripe shows validation errors inside the element as well as returning them.
    _validate() {
      if (!this._root) throw new IntegrationError('The Payment Element is not mounted.');
      const [card, error] = validate(this._values());
      this._error.textContent = error ? error.message : '';
      return [card, error];
    }
  }

  // ---- the Address Element ----

  // [key, label, autocomplete, required]; phone only with fields: {phone: 'always'}.
  const ADDRESS_FIELDS = [
    ['name', 'Full name', 'name', true],
    ['country', 'Country or region', 'country', true],
    ['line1', 'Address line 1', 'address-line1', true],
    ['line2', 'Address line 2 (optional)', 'address-line2', false],
    ['city', 'City', 'address-level2', true],
    ['state', 'State, province or region (optional)', 'address-level1', false],
    ['postal_code', 'Postal code', 'postal-code', true],
    ['phone', 'Phone number (optional)', 'tel', false],
  ];

  class AddressElement extends StandinElement {
    constructor(elements, options) {
      if (!options || !['shipping', 'billing'].includes(options.mode)) {
        throw new IntegrationError("Invalid value for create('address'): mode should be 'shipping' or 'billing'.");
      }
      super(elements);
      this._mode = options.mode;
      this._options = options;
    }

    mount(target) {
      const parent = this._mountPoint(target);
      const vars = (this._elements._appearance && this._elements._appearance.variables) || {};
      const radius = vars.borderRadius || '4px';
      const defaults = this._options.defaultValues || {};
      const defaultAddress = defaults.address || {};
      const countries = this._options.allowedCountries || ['US'];
      const withPhone = Boolean(this._options.fields && this._options.fields.phone === 'always');
      const root = make('fieldset', { class: 'standin-address-element' },
        { border: '1px solid #8a94a3', borderRadius: radius, padding: '12px', margin: '0' });
      root.append(make('legend', { text: `${this._mode === 'shipping' ? 'Shipping' : 'Billing'} address (offline Stripe stand-in)` },
        { padding: '0 4px', fontSize: '0.9rem' }));
      this._inputs = {};
      for (const [key, label, autocomplete, required] of ADDRESS_FIELDS) {
        if (key === 'phone' && !withPhone) continue;
        const id = `standin-address-${key.replace('_', '-')}`;
        const wrap = make('div', {}, { marginBottom: '8px' });
        wrap.append(make('label', { for: id, text: label }, { display: 'block', fontSize: '0.9rem' }));
        const input = key === 'country' ? make('select', { id, autocomplete }) : make('input', { id, type: key === 'phone' ? 'tel' : 'text', autocomplete });
        if (key === 'country') {
          for (const code of countries) input.append(make('option', { value: code, text: code }));
          if (countries.includes(defaultAddress.country)) input.value = defaultAddress.country;
        } else {
          input.value = (key === 'name' ? defaults.name : key === 'phone' ? defaults.phone : defaultAddress[key]) || '';
        }
        if (required) input.setAttribute('aria-required', 'true');
        css(input, { width: '100%', minHeight: '44px', boxSizing: 'border-box', font: 'inherit', padding: '8px',
          border: '1px solid #8a94a3', borderRadius: radius });
        input.addEventListener(key === 'country' ? 'change' : 'input', () => {
          this._error.textContent = '';
          this._emit('change', { elementType: 'address', elementMode: this._mode, ...this._state() });
        });
        wrap.append(input);
        root.append(wrap);
        this._inputs[key] = input;
      }
      this._error = make('p', { id: 'standin-address-error', role: 'alert' },
        { color: '#b3261e', margin: '4px 0 0', minHeight: '1.2em' });
      root.append(this._error);
      parent.replaceChildren(root);
      this._root = root;
      setTimeout(() => this._emit('ready', { elementType: 'address' }), 0); // async, as with Stripe
    }

    unmount() { if (this._root) { this._root.remove(); this._root = null; } }

    // {complete, empty, isNewAddress, value} in Stripe's shape: line2 null and state '' when empty.
    _state() {
      const text = (key) => (this._inputs[key] ? this._inputs[key].value.trim() : '');
      const value = {
        name: text('name'),
        address: {
          line1: text('line1'), line2: text('line2') || null, city: text('city'), state: text('state'),
          postal_code: text('postal_code'), country: text('country'),
        },
      };
      if (this._inputs.phone) value.phone = text('phone');
      const required = ADDRESS_FIELDS.filter(([, , , req]) => req).map(([key]) => key);
      const complete = required.every((key) => text(key));
      const empty = ['name', 'line1', 'line2', 'city', 'state', 'postal_code', 'phone'].every((key) => !text(key));
      return { complete, empty, isNewAddress: true, value };
    }

    async getValue() {
      if (!this._root) throw new IntegrationError('The Address Element is not mounted.');
      const { complete, isNewAddress, value } = this._state();
      return { complete, isNewAddress, value };
    }

    // Stripe shows the first missing field inside the element as well as returning an error.
    _validate() {
      if (!this._root) return [null, null];
      const state = this._state();
      if (state.complete) { this._error.textContent = ''; return [state.value, null]; }
      const error = validationError('incomplete_address', 'Your address is incomplete.');
      this._error.textContent = error.message;
      return [null, error];
    }
  }

  class Elements {
    constructor(stripe, options) {
      if (!options || !options.clientSecret) throw new IntegrationError('In order to create a payment element, you must pass a valid PaymentIntent or SetupIntent client secret when creating the Elements group.');
      this._stripe = stripe;
      this._clientSecret = options.clientSecret;
      this._appearance = options.appearance; // only borderRadius is honoured
      this._element = null; // the Payment Element
      this._address = null;
    }

    create(type, options) {
      if (type === 'address') {
        if (this._address) throw new IntegrationError('Can only create one Element of type address.');
        this._address = new AddressElement(this, options);
        return this._address;
      }
      if (type !== 'payment') throw new IntegrationError(`stand-in: only the 'payment' and 'address' elements exist, not '${type}'`);
      this._element = new PaymentElement(this);
      return this._element;
    }

    getElement(type) {
      if (type === 'address') return this._address;
      return type === 'payment' ? this._element : null;
    }

    async submit() {
      if (!this._element) throw new IntegrationError('elements.submit(): there is no Payment Element.');
      const [, error] = this._element._validate();
      const [, addressError] = this._address ? this._address._validate() : [null, null];
      return error || addressError ? { error: error || addressError } : {};
    }

    // Stripe re-reads the PaymentIntent (amount, currency) after the server changed it.
    async fetchUpdates() {
      if (failRequested('fetchUpdates')) {
        return { error: { type: 'api_connection_error', message: 'Could not refresh the Payment Element (stand-in).' } };
      }
      const result = await helper('/v1/retrieve', { key: this._stripe._key, client_secret: this._clientSecret });
      return result.error ? { error: result.error } : {};
    }
  }

  // ---- 3D Secure: an in-page challenge like Stripe's test page ----

  function threeDSecureChallenge() {
    return new Promise((resolve) => {
      const previousFocus = document.activeElement;
      const backdrop = make('div', { id: 'standin-3ds' },
        { position: 'fixed', inset: '0', background: 'rgba(0,0,0,0.55)', display: 'flex',
          alignItems: 'center', justifyContent: 'center', zIndex: '2147483647', padding: '16px' });
      const dialog = make('div', { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'standin-3ds-title',
        'aria-describedby': 'standin-3ds-text' },
      { background: '#fff', color: '#1b1f24', borderRadius: '8px', padding: '20px', maxWidth: '24rem', width: '100%' });
      dialog.append(
        make('h2', { id: 'standin-3ds-title', text: '3D Secure test authentication' }, { fontSize: '1.2rem', marginTop: '0' }),
        make('p', { id: 'standin-3ds-text', text: 'Offline stand-in for your bank’s check. Choose the outcome of this test payment.' }),
      );
      const button = (id, text, ok, primary) => {
        const b = make('button', { id, type: 'button', text },
          { font: 'inherit', fontWeight: '600', minHeight: '44px', width: '100%', marginTop: '8px', borderRadius: '6px',
            border: '2px solid #0b57d0', background: primary ? '#0b57d0' : '#fff', color: primary ? '#fff' : '#0b57d0', cursor: 'pointer' });
        b.addEventListener('click', () => finish(ok));
        return b;
      };
      const complete = button('standin-3ds-complete', 'Complete authentication', true, true);
      const fail = button('standin-3ds-fail', 'Fail authentication', false, false);
      dialog.append(complete, fail);
      backdrop.append(dialog);
      // Keep the keyboard inside the dialog; Escape fails, as closing Stripe's modal does.
      backdrop.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') finish(false);
        if (e.key === 'Tab') { e.preventDefault(); (document.activeElement === complete ? fail : complete).focus(); }
      });
      function finish(ok) {
        backdrop.remove();
        if (previousFocus && previousFocus.focus) previousFocus.focus();
        resolve(ok);
      }
      document.body.append(backdrop);
      complete.focus();
    });
  }

  // ---- Stripe(pk) ----

  class StripeStandIn {
    constructor(key) {
      if (typeof key !== 'string' || !key.startsWith('pk_')) {
        throw new IntegrationError('Invalid value for Stripe(): apiKey should be a publishable key (pk_...).');
      }
      this._key = key;
    }

    elements(options) { return new Elements(this, options); }

    async retrievePaymentIntent(clientSecret) {
      return helper('/v1/retrieve', { key: this._key, client_secret: clientSecret });
    }

    async confirmPayment(options) {
      const elements = options && options.elements;
      if (!elements || !elements._element || !elements._element._root) {
        throw new IntegrationError('Invalid value for stripe.confirmPayment(): elements should have a mounted Payment Element or Express Checkout Element.');
      }
      const returnUrl = options.confirmParams && options.confirmParams.return_url;
      if (!returnUrl && options.redirect !== 'if_required') {
        throw new IntegrationError("stripe.confirmPayment(): the `confirmParams.return_url` argument is required unless passing `redirect: 'if_required'`");
      }

      const [card, validation] = elements._element._validate();
      if (validation) return { error: validation };
      // A mounted Address Element in shipping mode gives the PaymentIntent its `shipping`.
      const address = elements._address;
      const [shipping, addressError] = address && address._mode === 'shipping' ? address._validate() : [null, null];
      if (addressError) return { error: addressError };

      const secret = elements._clientSecret;
      const confirm = { key: this._key, client_secret: secret, card };
      if (shipping) confirm.shipping = shipping;
      let result = await helper('/v1/confirm', confirm);
      // Stripe.js handles 3D Secure itself; other actions (micro-deposits) are the page's to show.
      const next = !result.error && result.paymentIntent.next_action;
      if (next && next.type === 'use_stripe_sdk') {
        const ok = await threeDSecureChallenge();
        result = await helper('/v1/authenticate', { key: this._key, client_secret: secret, success: ok });
      }
      if (result.error) return { error: result.error };

      // Cards never need a redirect; with redirect 'always' Stripe still sends the shopper to return_url.
      if (options.redirect !== 'if_required') {
        const url = new URL(returnUrl);
        url.searchParams.set('payment_intent', result.paymentIntent.id);
        url.searchParams.set('payment_intent_client_secret', secret);
        url.searchParams.set('redirect_status', result.paymentIntent.status === 'succeeded' ? 'succeeded' : 'failed');
        window.location.assign(url.toString());
        return new Promise(() => {}); // the page is going away
      }
      return { paymentIntent: result.paymentIntent };
    }
  }

  window.Stripe = function Stripe(key) { return new StripeStandIn(key); };
  window.Stripe.version = 3;
  window.Stripe.standIn = true; // lets tests assert they are not talking to real Stripe
}());
