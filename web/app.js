// Checkout: cart -> PaymentIntent priced by the server -> Payment Element -> order status.

const KEY = 'checkout';
const FINAL_STATUSES = new Set(['paid', 'failed', 'needs_review', 'canceled', 'refunded']);
const PAID_INTENT = new Set(['succeeded', 'processing', 'requires_capture']);
const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

const $ = (id) => document.getElementById(id);
const ui = {
  loading: $('cart-loading'), email: $('email'), amount: $('amount'), paymentSection: $('payment'),
  form: $('payment-form'), payButton: $('pay-button'), payMessage: $('payment-message'),
  orderStatus: $('order-status'), retry: $('retry'), newCheckout: $('new-checkout'),
};

const state = {
  intent: null, // the server's last answer
  stale: false, // the last sync failed
  syncSeq: 0, syncTimer: 0, syncing: false, elementReady: false, paying: false, locked: false,
};

// Minor units: Intl knows each currency's decimals.
function money(minor, currency) {
  const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return fmt.format(minor / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}

const show = (el, visible) => { el.hidden = !visible; };
const say = (text) => { $('status-message').textContent = text; show(ui.retry, false); };
const showPayError = (text) => { ui.payMessage.textContent = text; if (text) ui.payMessage.focus(); };

function offerRetry(text, label, action) {
  say(text);
  ui.retry.textContent = label;
  ui.retry.onclick = () => { say(''); action(); };
  show(ui.retry, true);
}

async function api(path, options) {
  const res = await fetch(path, options).catch(() => {
    throw Error('We could not reach the shop. Check your connection.');
  });
  const body = await res.json().catch(() => ({}));
  if (res.ok) return body;
  const err = body.error || {};
  throw Object.assign(Error(err.message || 'Something went wrong. Please try again.'), { status: res.status, code: err.code });
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
    const [h3, desc, price, label, input] = li.querySelectorAll('h3, p, label, input');
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
  for (const input of document.querySelectorAll('#cart input')) input.disabled = disabled;
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
  state.intent = intent;
  state.stale = false;
  ui.amount.textContent = money(intent.amount, intent.currency);
  if (previous?.clientSecret !== intent.clientSecret) mountPaymentElement(intent.clientSecret);
  else if (previous.amount !== intent.amount) await state.elements.fetchUpdates();
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
    say('');
  } catch (err) {
    if (seq !== state.syncSeq) return;
    if (err.code === 'checkout_locked') lockCheckout(err.message);
    else if (err.code === 'checkout_busy') state.syncTimer = setTimeout(syncIntent, 1000); // another tab
    else { // Stripe may hold a new amount: no paying until the server answers
      state.stale = true;
      ui.amount.textContent = '–';
      offerRetry(err.message, 'Try again', cartChanged);
    }
  } finally {
    if (seq === state.syncSeq) state.syncing = false;
    updatePayButton();
  }
}

function lockCheckout(message) {
  state.locked = true;
  setCartDisabled(true);
  show(ui.paymentSection, false);
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
function describePaymentError({ code, type, message }) {
  if (code === 'payment_intent_authentication_failure') return 'Your bank could not confirm this payment (3D Secure failed). Try again or use another card.';
  if (code === 'card_declined') return `${message} Please try another card.`;
  return /^(card|validation)_error$/.test(type) ? message : 'Your payment could not be processed. Please try again.';
}

async function pay(event) {
  event.preventDefault();
  if (ui.payButton.disabled) return; // one confirmation at a time
  state.paying = true;
  setCartDisabled(true);
  showPayError('');
  updatePayButton();
  const message = await attemptPayment().catch(() => describePaymentError({}));
  if (!message) return; // following the order, or locked
  state.paying = false;
  setCartDisabled(state.locked);
  updatePayButton();
  showPayError(message);
}

// Returns what to tell the shopper if nothing was paid.
async function attemptPayment() {
  const { clientSecret, amount } = state.intent;
  // First, inside the click: wallets need it before any other await.
  const { error: invalid } = await state.elements.submit();
  if (invalid) return describePaymentError(invalid);
  const fresh = await postCart().catch((err) => err); // Stripe must hold the amount shown
  if (fresh instanceof Error) return fresh.code === 'checkout_locked' ? lockCheckout(fresh.message) : fresh.message;
  if (fresh.clientSecret !== clientSecret || fresh.amount !== amount) {
    await useIntent(fresh);
    return `The amount to pay is now ${money(fresh.amount, fresh.currency)}. Check it, then press Pay again.`;
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
  saveCheckout({ confirming: null });
  return error ? describePaymentError(error) : NOT_COMPLETED;
}

// Paid or on its way: now only the order counts.
function awaitOrder(paymentIntentId, clientSecret) {
  saveCheckout({ submitted: { paymentIntentId, clientSecret }, confirming: null });
  state.locked = true;
  show(ui.paymentSection, false);
  setCartDisabled(true);
  showOrder({ status: 'pending' });
  ui.orderStatus.focus(); // Pay is gone
  pollOrder(paymentIntentId, clientSecret);
}

const STATUS_TEXT = {
  pending: 'Confirming your payment…',
  processing: 'Your payment is processing…',
  paid: 'Paid. Thank you, your order is confirmed.',
  failed: 'The payment failed.',
  canceled: 'This order was canceled.',
  refunded: 'This order was refunded.',
  needs_review: 'Payment received. We are reviewing your order and will contact you.',
};

function showOrder(order) {
  show($('result'), true);
  ui.orderStatus.dataset.status = order.status;
  ui.orderStatus.textContent = STATUS_TEXT[order.status] || order.status;
  const error = order.status === 'failed' && order.lastPaymentError ? ` ${order.lastPaymentError.message}` : '';
  $('order-detail').textContent = order.amount == null ? error : `Amount: ${money(order.amount, order.currency)}.${error}`;
}

async function retrieve(clientSecret) {
  return (await state.stripe.retrievePaymentIntent(clientSecret).catch(() => ({}))).paymentIntent;
}

async function pollOrder(paymentIntentId, clientSecret) {
  const again = () => pollOrder(paymentIntentId, clientSecret);
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    try {
      let order = await api(`/api/orders/${encodeURIComponent(paymentIntentId)}`,
        { headers: { 'X-Client-Secret': clientSecret } });
      // An earlier attempt's `failed` may stay until this payment's webhook lands
      if (order.status === 'failed' && (await retrieve(clientSecret))?.status !== 'requires_payment_method') {
        order = { ...order, status: 'pending' };
      }
      showOrder(order);
      if (FINAL_STATUSES.has(order.status)) return orderFinished(order);
    } catch (err) {
      if (err.status < 500 && err.status !== 404) return offerRetry(err.message, 'Check again', again);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  offerRetry('No confirmation yet: your payment may still be processing.', 'Check again', again);
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
  if (intent.status === 'requires_action') { // 3D Secure unfinished: same cart
    setCartDisabled(true);
    showPayError('Your payment is not finished. Enter your card again and press Pay.');
  } else {
    saveCheckout({ confirming: null });
    showPayError(NOT_COMPLETED);
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
