// Checkout: cart -> PaymentIntent priced by the server -> Payment Element -> order status.
// Prices and the amount charged come only from the server; this page displays them.

const STORAGE_KEY = 'checkout';
const FINAL_STATUSES = new Set(['paid', 'failed', 'needs_review', 'canceled', 'refunded']);
const PAID_INTENT = new Set(['succeeded', 'processing', 'requires_capture']);
const POLL_TIMEOUT_MS = 30000;
const SYNC_DEBOUNCE_MS = 400;
const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

const $ = (id) => document.getElementById(id);
const ui = {
  loading: $('cart-loading'), products: $('products'), cartError: $('cart-error'), email: $('email'),
  estimate: $('estimate'), amount: $('amount'), paymentSection: $('payment'), form: $('payment-form'),
  payButton: $('pay-button'), payMessage: $('payment-message'), result: $('result'),
  orderStatus: $('order-status'), orderDetail: $('order-detail'), checkAgain: $('check-again'),
  status: $('status-message'), newCheckout: $('new-checkout'),
};

const state = {
  config: null, stripe: null, elements: null, paymentElement: null, checkout: null,
  intent: null, // {clientSecret, paymentIntentId, amount, currency}, the server's last answer
  syncSeq: 0, syncTimer: 0, syncing: false, elementReady: false, paying: false, locked: false,
};

// Amounts are in the currency's minor unit; Intl knows how many decimals each currency has.
function money(minor, currency) {
  const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return fmt.format(minor / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}

const show = (el, visible) => { el.hidden = !visible; };
const say = (text) => { ui.status.textContent = text; };
const showPayError = (text) => { ui.payMessage.textContent = text; }; // CSS hides it when empty

async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, options);
  } catch {
    throw Object.assign(new Error('We could not reach the shop. Check your connection.'), { status: 0 });
  }
  const body = await res.json().catch(() => ({}));
  if (res.ok) return body;
  const err = body.error || {};
  throw Object.assign(new Error(err.message || 'Something went wrong. Please try again.'),
    { status: res.status, code: err.code });
}

// The checkout lives in sessionStorage: the same id after a reload means the same PaymentIntent.

function loadCheckout() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    if (saved && typeof saved.id === 'string') return { quantities: {}, submitted: null, ...saved };
  } catch { /* unreadable: start a new checkout */ }
  return { id: crypto.randomUUID(), quantities: {}, submitted: null };
}
function saveCheckout() { sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state.checkout)); }
function startNewCheckout() { sessionStorage.removeItem(STORAGE_KEY); location.assign(location.pathname); }

function renderProducts(products) {
  const q = state.checkout.quantities;
  ui.products.replaceChildren(...products.map((p, i) => {
    if (!(p.id in q)) q[p.id] = i === 0 ? 1 : 0; // a first visit starts with one item
    const li = document.createElement('li');
    li.className = 'product';
    const inputId = `qty-${p.id}`;
    li.innerHTML = '<div class="product-text"><h3></h3><p></p></div><p class="price"></p>'
      + '<div class="qty"><label>Quantity<span class="visually-hidden"></span></label>'
      + '<input type="number" inputmode="numeric" min="0" max="99"></div>';
    li.querySelector('h3').textContent = p.name;
    li.querySelector('.product-text p').textContent = p.description;
    li.querySelector('.price').textContent = money(p.unitAmount, p.currency);
    li.querySelector('label').htmlFor = inputId;
    li.querySelector('label span').textContent = ` of ${p.name}`; // heard, not shown
    const input = li.querySelector('input');
    input.id = inputId;
    input.value = q[p.id];
    input.addEventListener('change', () => {
      const n = Math.min(99, Math.max(0, Math.trunc(Number(input.value)) || 0));
      input.value = n;
      q[p.id] = n;
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

// A client-side estimate, clearly labelled: what is charged is the server's `amount`.
function showEstimate() {
  const { products, currency } = state.config;
  const total = products.reduce((sum, p) => sum + p.unitAmount * (state.checkout.quantities[p.id] || 0), 0);
  ui.estimate.textContent = money(total, currency);
}

function cartChanged() {
  showEstimate();
  clearTimeout(state.syncTimer);
  const empty = cartItems().length === 0;
  ui.cartError.textContent = empty ? 'Choose at least one item to continue.' : '';
  state.syncTimer = empty ? 0 : setTimeout(syncIntent, SYNC_DEBOUNCE_MS);
  if (empty) { state.intent = null; ui.amount.textContent = '–'; }
  updatePayButton();
}

// The server creates or updates the PaymentIntent for this checkoutId.

async function syncIntent() {
  state.syncTimer = 0;
  const seq = ++state.syncSeq;
  state.syncing = true;
  updatePayButton();
  const body = { checkoutId: state.checkout.id, items: cartItems() };
  if (ui.email.value && ui.email.checkValidity()) body.email = ui.email.value.trim();
  try {
    const intent = await api('/api/payment-intents', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (seq !== state.syncSeq) return; // a newer cart is already on its way
    const previous = state.intent;
    state.intent = intent;
    ui.amount.textContent = money(intent.amount, intent.currency);
    if (!previous || previous.clientSecret !== intent.clientSecret) mountPaymentElement(intent.clientSecret);
    else if (previous.amount !== intent.amount) await state.elements.fetchUpdates();
    say('');
  } catch (err) {
    if (seq !== state.syncSeq) return;
    if (err.code === 'checkout_locked') lockCheckout(err.message);
    else if (err.code === 'checkout_busy') state.syncTimer = setTimeout(syncIntent, 1000); // another tab
    else say(err.message);
  } finally {
    if (seq === state.syncSeq) state.syncing = false;
    updatePayButton();
  }
}

function lockCheckout(message) {
  state.locked = true;
  setCartDisabled(true);
  show(ui.paymentSection, false);
  say(message); // the server's words, e.g. already paid; the button below starts afresh
  show(ui.newCheckout, true);
}

function mountPaymentElement(clientSecret) {
  state.paymentElement?.unmount();
  state.elementReady = false;
  state.elements = state.stripe.elements({
    clientSecret,
    appearance: { theme: 'stripe', variables: { colorPrimary: '#0b57d0', borderRadius: '6px' } },
  });
  const element = state.elements.create('payment');
  element.on('ready', () => { state.elementReady = true; updatePayButton(); });
  element.on('change', () => showPayError(''));
  element.mount('#payment-element');
  state.paymentElement = element;
}

function updatePayButton() {
  const priced = state.intent && !state.syncTimer && !state.syncing; // the server's amount is current
  ui.payButton.disabled = !priced || !state.elementReady || state.paying || state.locked;
  ui.payButton.textContent = state.paying ? 'Processing…'
    : priced ? `Pay ${money(state.intent.amount, state.intent.currency)}` : 'Pay';
  ui.form.setAttribute('aria-busy', String(state.paying || state.syncing));
}

// Stripe's messages for card and validation errors are written for shoppers; others are not.
function describePaymentError(error) {
  if (error.code === 'payment_intent_authentication_failure') {
    return 'Your bank could not confirm this payment (3D Secure failed). Try again or use another card.';
  }
  if (error.code === 'card_declined') return `${error.message} Please try another card.`;
  if (error.type === 'card_error' || error.type === 'validation_error') return error.message;
  return 'Your payment could not be processed. Please try again.';
}

async function pay(event) {
  event.preventDefault();
  if (ui.payButton.disabled) return; // never a second confirmation while one is in flight
  state.paying = true;
  setCartDisabled(true);
  showPayError('');
  updatePayButton();
  let result;
  try {
    result = await state.stripe.confirmPayment({
      elements: state.elements,
      redirect: 'if_required',
      confirmParams: { return_url: location.origin + location.pathname },
    });
  } catch {
    result = { error: {} }; // e.g. the network failed: a generic message, and the button comes back
  }
  const { error } = result;
  // Already paid (say, in another tab): Stripe says so in the error, with the PaymentIntent.
  const intent = result.paymentIntent || error?.payment_intent;
  if (intent && PAID_INTENT.has(intent.status)) return awaitOrder(intent.id, state.intent.clientSecret);
  state.paying = false;
  setCartDisabled(state.locked);
  updatePayButton();
  showPayError(error ? describePaymentError(error) : NOT_COMPLETED);
}

// Paid or on its way: the page now only follows the order.
function awaitOrder(paymentIntentId, clientSecret) {
  // Remembered so that a reload while we wait for the webhook shows this order, not the cart.
  state.checkout.submitted = { paymentIntentId, clientSecret };
  saveCheckout();
  state.locked = true;
  show(ui.paymentSection, false);
  setCartDisabled(true);
  pollOrder(paymentIntentId, clientSecret);
}

// The order status is the server's record, moved on by Stripe's webhook.

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
  show(ui.result, true);
  ui.orderStatus.dataset.status = order.status;
  ui.orderStatus.textContent = STATUS_TEXT[order.status] || order.status;
  const error = order.status === 'failed' && order.lastPaymentError ? ` ${order.lastPaymentError.message}` : '';
  ui.orderDetail.textContent = order.amount == null ? error : `Amount: ${money(order.amount, order.currency)}.${error}`;
}

async function pollOrder(paymentIntentId, clientSecret) {
  show(ui.result, true);
  show(ui.checkAgain, false);
  if (!ui.orderStatus.dataset.status) showOrder({ status: 'pending' });
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    try {
      const order = await api(`/api/orders/${encodeURIComponent(paymentIntentId)}`,
        { headers: { 'X-Client-Secret': clientSecret } });
      showOrder(order);
      if (FINAL_STATUSES.has(order.status)) return orderFinished(order);
    } catch (err) {
      if (err.status && err.status !== 404 && err.status < 500) { say(err.message); return; }
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  say('No confirmation yet: your payment may still be processing. Check again in a moment.');
  ui.checkAgain.onclick = () => { say(''); pollOrder(paymentIntentId, clientSecret); };
  show(ui.checkAgain, true);
}

function orderFinished(order) {
  if (order.status === 'failed') { // the PaymentIntent is open again: the shopper may retry
    state.checkout.submitted = null;
    saveCheckout();
    state.locked = false;
    state.paying = false;
    show(ui.paymentSection, true);
    setCartDisabled(false);
    cartChanged(); // re-reads the PaymentIntent and mounts the Payment Element if needed
    return;
  }
  sessionStorage.removeItem(STORAGE_KEY); // the next purchase is a new checkout
  show(ui.newCheckout, true);
  ui.newCheckout.focus();
}

// Back from a redirect-based payment method: Stripe adds these to return_url.
async function handleReturn(params) {
  const clientSecret = params.get('payment_intent_client_secret');
  history.replaceState(null, '', location.pathname); // a reload starts from the cart again
  const { paymentIntent, error } = await state.stripe.retrievePaymentIntent(clientSecret);
  if (error || !paymentIntent) { say('We could not load your payment. Please try again.'); return false; }
  if (!PAID_INTENT.has(paymentIntent.status)) {
    showPayError(NOT_COMPLETED);
    return false;
  }
  awaitOrder(paymentIntent.id, clientSecret);
  return true;
}

async function start() {
  ui.form.addEventListener('submit', pay);
  ui.newCheckout.addEventListener('click', startNewCheckout);
  ui.email.addEventListener('change', () => {
    const bad = !ui.email.checkValidity(); // never drop a mistyped address silently
    ui.email.setAttribute('aria-invalid', bad);
    $('email-error').textContent = bad ? 'Check your email address, or leave it empty.' : '';
    if (!bad && cartItems().length) cartChanged();
  });
  try {
    state.config = await api('/api/config');
  } catch (err) {
    ui.loading.textContent = `${err.message} Reload the page to try again.`;
    return;
  }
  if (typeof Stripe !== 'function') {
    ui.loading.textContent = 'The payment form could not load. Check your connection and reload.';
    return;
  }
  state.stripe = Stripe(state.config.publishableKey);
  state.checkout = loadCheckout();
  show(ui.loading, false);
  renderProducts(state.config.products);
  saveCheckout();
  showEstimate();

  const params = new URLSearchParams(location.search);
  if (params.has('payment_intent_client_secret') && await handleReturn(params)) return;
  const { submitted } = state.checkout;
  if (submitted) awaitOrder(submitted.paymentIntentId, submitted.clientSecret);
  else cartChanged();
}

start();
