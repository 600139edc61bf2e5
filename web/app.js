// Checkout: cart -> PaymentIntent priced by the server -> Payment Element -> order status.

const KEY = 'checkout';
const FINAL = new Set(['paid', 'failed', 'needs_review', 'canceled', 'refunded', 'disputed', 'dispute_lost']);
const PAID_INTENT = new Set(['succeeded', 'processing', 'requires_capture']);
const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const ui = {
  loading: $('cart-loading'), email: $('email'), amount: $('amount'), paymentSection: $('payment'),
  form: $('payment-form'), payButton: $('pay-button'), payMessage: $('payment-message'),
  orderStatus: $('order-status'), retry: $('retry'), newCheckout: $('new-checkout'),
};

const state = {
  intent: null, // the server's last answer
  stale: false, // Stripe may hold another amount than shown
  syncSeq: 0, syncTimer: 0, retryTimer: 0, syncing: false, elementReady: false, paying: false, locked: false, renewed: false,
};

// Minor units: Intl knows each currency's decimals.
function money(minor, currency) {
  const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return fmt.format(minor / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}

const show = (el, visible) => { el.hidden = !visible; };
const say = (text) => { $('status-message').textContent = text; show(ui.retry, false); clearTimeout(state.retryTimer); };
const showPayError = (text) => { ui.payMessage.textContent = text; if (text) ui.payMessage.focus(); };

// `wait`: seconds until the button works (a 429's Retry-After).
function offerRetry(text, label, action, wait = 0) {
  say(wait ? `${text} You can try again in ${wait} seconds.` : text);
  ui.retry.onclick = () => { say(''); action(); };
  show(ui.retry, true);
  const tick = () => {
    ui.retry.disabled = wait > 0;
    ui.retry.textContent = wait > 0 ? `${label} (${wait} s)` : label;
    if (wait--) state.retryTimer = setTimeout(tick, 1000);
  };
  tick();
}

async function api(path, options) {
  const res = await fetch(path, options).catch(() => {
    throw Error('We could not reach the shop. Check your connection.');
  });
  const body = await res.json().catch(() => ({}));
  if (res.ok) return body;
  const err = body.error || {};
  throw Object.assign(Error(err.message || 'Something went wrong. Please try again.'),
    { status: res.status, code: err.code, wait: +res.headers.get('Retry-After') || 0 });
}

// In sessionStorage: `confirming` (a client secret) if a payment may be under way, `submitted` once
// it went through.

function loadCheckout() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY));
    if (typeof saved?.id === 'string') return { quantities: {}, ...saved };
  } catch { /* unreadable: start a new checkout */ }
  return { id: crypto.randomUUID(), quantities: {} };
}
function saveCheckout(changes) {
  Object.assign(state.checkout, changes);
  sessionStorage.setItem(KEY, JSON.stringify(state.checkout));
}

function renderProducts() {
  const q = state.checkout.quantities;
  $('products').replaceChildren(...state.config.products.map((p, i) => {
    q[p.id] ??= i ? 0 : 1; // a first visit starts with one item
    const li = document.createElement('li');
    li.className = 'product';
    li.innerHTML = '<div class="product-text"><h3></h3><p></p></div><p class="price"></p>'
      + '<div class="qty"><label>Quantity<span class="visually-hidden"></span></label>'
      + '<input type="number" inputmode="numeric" min="0" max="99"></div>';
    const [h3, desc, price, label, input] = /** @type {any} */ (li.querySelectorAll('h3, p, label, input'));
    h3.textContent = p.name;
    desc.textContent = p.description;
    price.textContent = money(p.unitAmount, p.currency);
    label.lastChild.textContent = ` of ${p.name}`; // heard, not shown
    label.htmlFor = input.id = `qty-${p.id}`;
    input.value = q[p.id];
    input.addEventListener('change', () => {
      input.value = q[p.id] = Math.min(99, Math.max(0, Math.trunc(Number(input.value)) || 0));
      saveCheckout();
      cartChanged();
    });
    return li;
  }));
}

function cartItems() {
  return state.config.products
    .filter((p) => state.checkout.quantities[p.id] > 0)
    .map((p) => ({ productId: p.id, quantity: state.checkout.quantities[p.id] }));
}

function setCartDisabled(disabled) {
  for (const input of $('cart').querySelectorAll('input')) input.disabled = disabled;
}

function cartChanged() {
  clearTimeout(state.syncTimer);
  const empty = !cartItems().length;
  $('cart-error').textContent = empty ? 'Choose at least one item to continue.' : '';
  state.syncTimer = empty ? 0 : setTimeout(syncIntent, 400); // debounced
  if (empty) { // and a sync on its way must not bring an amount back
    state.intent = null;
    state.syncing = false;
    state.syncSeq++;
    ui.amount.textContent = '–';
  }
  updatePayButton();
}

function postCart() {
  const body = { checkoutId: state.checkout.id, items: cartItems() };
  if (ui.email.value && ui.email.checkValidity()) body.email = ui.email.value.trim();
  return api('/api/payment-intents', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
}

async function useIntent(intent) {
  const previous = state.intent;
  const refresh = state.stale || previous?.amount !== intent.amount;
  state.intent = intent;
  state.stale = true; // until the Element holds it too
  ui.amount.textContent = money(intent.amount, intent.currency);
  if (previous?.clientSecret !== intent.clientSecret) mountPaymentElement(intent.clientSecret);
  // (and a wallet's sheet). A failure resolves, with {error}.
  else if (refresh && (await state.elements.fetchUpdates()).error) throw Error('The payment form could not be updated.');
  state.stale = false;
}

async function syncIntent() {
  state.syncTimer = 0;
  const seq = ++state.syncSeq;
  state.syncing = true;
  updatePayButton();
  try {
    const intent = await postCart();
    if (seq !== state.syncSeq) return; // a newer cart is on its way
    await useIntent(intent);
    state.renewed = false;
    say('');
  } catch (err) {
    if (seq === state.syncSeq) syncFailed(err);
  } finally {
    if (seq === state.syncSeq) state.syncing = false;
    updatePayButton();
  }
}

function syncFailed({ code, message, wait }) {
  if (code === 'checkout_expired' && !state.renewed) { // abandoned: start afresh, silently
    state.renewed = true;
    saveCheckout({ id: crypto.randomUUID() });
    return syncIntent();
  }
  if (code === 'checkout_locked' || code === 'checkout_attempts_exhausted') return lockCheckout(message);
  if (code === 'checkout_busy') return void (state.syncTimer = setTimeout(syncIntent, 1000)); // another tab
  // Stripe may hold a new amount: no paying until the server answers
  state.stale = true;
  ui.amount.textContent = '–';
  offerRetry(message, 'Try again', cartChanged, wait);
}

function lock() {
  state.locked = true;
  setCartDisabled(true);
  show(ui.paymentSection, false);
}

function lockCheckout(message) {
  lock();
  say(message);
  offerNewCheckout();
}

function offerNewCheckout() {
  show(ui.newCheckout, true);
  ui.newCheckout.focus();
}

function mountPaymentElement(clientSecret) {
  state.paymentElement?.unmount();
  state.elementReady = false;
  state.elements = state.stripe.elements({
    clientSecret,
    appearance: { variables: { colorPrimary: '#0b57d0', borderRadius: '6px' } },
  });
  const element = state.paymentElement = state.elements.create('payment');
  element.on('ready', () => { state.elementReady = true; updatePayButton(); });
  element.on('change', () => showPayError(''));
  element.on('loaderror', () => offerRetry('The payment form could not load.', 'Try again', () => mountPaymentElement(clientSecret)));
  element.mount('#payment-element');
}

function updatePayButton() {
  const priced = state.intent && !state.stale && !state.syncTimer && !state.syncing;
  ui.payButton.disabled = !priced || !state.elementReady || state.paying || state.locked;
  ui.payButton.textContent = state.paying ? 'Processing…'
    : priced ? `Pay ${money(state.intent.amount, state.intent.currency)}` : 'Pay';
  ui.form.ariaBusy = state.paying || state.syncing;
}

// Only Stripe's card and validation messages are for shoppers.
function describePaymentError({ code = '', type = '', message = '' } = {}) {
  if (code === 'payment_intent_authentication_failure') return 'Your bank could not confirm this payment (3D Secure failed). Try again or use another card.';
  if (code === 'card_declined') return `${message} Please try another card.`;
  return /^(card|validation)_error$/.test(type) ? message : NOT_COMPLETED;
}

async function pay(event) {
  event.preventDefault();
  if (ui.payButton.disabled) return; // one confirmation at a time
  state.paying = true;
  setCartDisabled(true);
  showPayError('');
  updatePayButton();
  const message = await attemptPayment().catch(() => describePaymentError()); // Stripe.js throws on misuse
  state.paying = false;
  setCartDisabled(state.locked);
  updatePayButton();
  if (message) showPayError(message);
}

// Returns what to tell the shopper if nothing was paid.
async function attemptPayment() {
  const { clientSecret, amount } = state.intent;
  // First, inside the click: wallets need it before any other await.
  const { error: invalid } = await state.elements.submit();
  if (invalid) return describePaymentError(invalid);
  try { // Stripe must hold the amount shown
    const fresh = await postCart();
    if (fresh.clientSecret !== clientSecret || fresh.amount !== amount) {
      await useIntent(fresh);
      return `The amount to pay is now ${money(fresh.amount, fresh.currency)}. Check it, then press Pay again.`;
    }
  } catch (err) {
    return syncFailed(err);
  }
  saveCheckout({ confirming: clientSecret }); // for a reload, say during 3D Secure
  const { error, paymentIntent } = await state.stripe.confirmPayment({
    elements: state.elements,
    redirect: 'if_required',
    confirmParams: { return_url: location.origin + location.pathname },
  });
  // Paid before (say, in another tab): the error carries the PaymentIntent.
  const intent = paymentIntent || error?.payment_intent;
  if (PAID_INTENT.has(intent?.status)) return awaitOrder(intent.id, clientSecret);
  if (paymentIntent?.status === 'requires_action') return actionNeeded(paymentIntent, clientSecret);
  saveCheckout({ confirming: null });
  return describePaymentError(error);
}

// Paid or on its way: now only the order counts.
function awaitOrder(paymentIntentId, clientSecret) {
  saveCheckout({ submitted: { paymentIntentId, clientSecret }, confirming: null });
  showLocked({ status: 'pending' });
  pollOrder(paymentIntentId, clientSecret);
}

function showLocked(order) {
  lock();
  showOrder(order);
  ui.orderStatus.focus(); // Pay is gone
}

// Stripe awaits the shopper elsewhere (say, to verify micro-deposits): the payment is under way.
// `confirming` stays, for a reload.
function actionNeeded({ next_action: next }, clientSecret) {
  const ask = next[next.type] || {};
  const url = ask.hosted_verification_url || ask.hosted_instructions_url || ask.hosted_voucher_url;
  showLocked({ status: 'requires_action' });
  const detail = $('order-detail');
  if (next.type === 'verify_with_microdeposits') detail.textContent = 'Verify the small deposit Stripe sends to your bank account. ';
  if (url) Object.assign(detail.appendChild(document.createElement('a')), { href: url, textContent: 'Stripe’s instructions' });
  offerRetry('We confirm your order once the payment completes.', 'Check again', () => resume(clientSecret));
}

const STATUS_TEXT = {
  pending: 'Confirming your payment…',
  processing: 'Your payment is processing…',
  paid: 'Paid. Thank you, your order is confirmed.',
  failed: 'The payment failed.',
  canceled: 'This order was canceled.',
  refunded: 'This order was refunded.',
  needs_review: 'Payment received. We are reviewing your order and will contact you.',
  disputed: 'This payment is disputed with your bank.',
  dispute_lost: 'Your bank reversed this payment after a dispute.',
  requires_action: 'Action needed to complete your payment.',
};

function showOrder({ status, amount, currency, refundedAmount, lastPaymentError }) {
  show($('result'), true);
  ui.orderStatus.dataset.status = status;
  ui.orderStatus.textContent = STATUS_TEXT[status] || status;
  $('order-detail').textContent = [
    amount != null && `Amount: ${money(amount, currency)}.`,
    refundedAmount > 0 && `Refunded ${money(refundedAmount, currency)} of ${money(amount, currency)}.`,
    status === 'failed' && lastPaymentError?.message, // the latest decline
  ].filter(Boolean).join(' ');
}

// Stripe's view of the PaymentIntent, undefined if Stripe did not answer.
async function retrieve(clientSecret) {
  return (await state.stripe.retrievePaymentIntent(clientSecret).catch(() => ({}))).paymentIntent;
}

async function pollOrder(paymentIntentId, clientSecret) {
  const again = () => pollOrder(paymentIntentId, clientSecret);
  const deadline = Date.now() + 30000;
  let unknown = false;
  while (Date.now() < deadline) {
    try {
      const order = await api(`/api/orders/${encodeURIComponent(paymentIntentId)}`,
        { headers: { 'X-Client-Secret': clientSecret } });
      // An earlier attempt's `failed` may stay until this payment's webhook lands: ask Stripe.
      const intent = order.status === 'failed' && await retrieve(clientSecret);
      unknown = intent === undefined; // no answer: ask again
      if (intent && intent.status !== 'requires_payment_method') order.status = 'pending';
      if (!unknown) showOrder(order);
      if (!unknown && FINAL.has(order.status)) return orderFinished(order);
    } catch (err) {
      if (err.status < 500 && err.status !== 404) return offerRetry(err.message, 'Check again', again);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  offerRetry(unknown ? 'We could not check your payment with Stripe.'
    : 'No confirmation yet: your payment may still be processing.', 'Check again', again);
}

function orderFinished(order) {
  if (order.status === 'failed') { // the PaymentIntent is open again: the shopper may retry
    saveCheckout({ submitted: null });
    state.locked = state.paying = false;
    show(ui.paymentSection, true);
    setCartDisabled(false);
    cartChanged();
    return showPayError(NOT_COMPLETED);
  }
  sessionStorage.removeItem(KEY); // the next purchase is a new checkout
  offerNewCheckout();
}

// Back from a redirect, or reloaded while paying. No new checkout while a payment may succeed.
async function resume(clientSecret) {
  const intent = await retrieve(clientSecret);
  if (!intent) return offerRetry('We could not load your payment.', 'Try again', () => resume(clientSecret));
  if (PAID_INTENT.has(intent.status)) return awaitOrder(intent.id, clientSecret);
  if (intent.status === 'requires_action') {
    if (!/^(use_stripe_sdk|redirect_to_url)$/.test(intent.next_action.type)) return actionNeeded(intent, clientSecret);
    setCartDisabled(true); // 3D Secure unfinished: same cart
    showPayError('Your payment is not finished. Enter your card again and press Pay.');
  } else {
    saveCheckout({ confirming: null });
    showPayError(intent.last_payment_error?.message || NOT_COMPLETED); // say, the bank's decline
  }
  cartChanged();
}

async function start() {
  ui.form.addEventListener('submit', pay);
  ui.newCheckout.onclick = () => { sessionStorage.removeItem(KEY); location.assign(location.pathname); };
  ui.email.addEventListener('change', () => {
    const bad = !ui.email.checkValidity(); // never drop a typo silently
    ui.email.ariaInvalid = bad;
    $('email-error').textContent = bad ? 'Check your email address, or leave it empty.' : '';
    if (!bad && cartItems().length) cartChanged();
  });
  try {
    state.config = await api('/api/config');
    state.stripe = Stripe(state.config.publishableKey); // throws without Stripe.js
  } catch (err) {
    ui.loading.textContent = state.config ? 'The payment form could not load. Check your connection and reload.'
      : `${err.message} Reload the page to try again.`;
    return;
  }
  state.checkout = loadCheckout();
  show(ui.loading, false);
  renderProducts();
  saveCheckout();

  const { submitted, confirming } = state.checkout;
  const secret = new URLSearchParams(location.search).get('payment_intent_client_secret');
  if (secret) history.replaceState(null, '', location.pathname);
  if (secret || confirming) resume(secret || confirming);
  else if (submitted) awaitOrder(submitted.paymentIntentId, submitted.clientSecret);
  else cartChanged();
}

start();
