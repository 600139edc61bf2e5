// The checkout page: see README.md, "The checkout page".

const KEY = 'checkout';
const WAITING = new Set(['pending', 'processing']); // others are final
const PAID_INTENT = new Set(['succeeded', 'processing', 'requires_capture']);
const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
/** Everything the page knows that changes, in one place. */
const state = {
  config: null, // GET /api/config
  stripe: null,
  checkout: null, // this checkout, mirrored in sessionStorage
  elements: null,
  paymentElement: null,
  intent: null, // the server's last answer
  amountStale: false, // Stripe may hold another amount than shown
  syncSeq: 0,
  syncTimer: 0,
  syncing: false,
  retryTimer: 0,
  elementReady: false,
  paying: false,
  locked: false,
  renewed: false,
};

function money(minor, currency) {
  const fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return fmt.format(minor / 10 ** fmt.resolvedOptions().maximumFractionDigits);
}

const say = (text) => { $('status-message').textContent = text; $('retry').hidden = true; clearTimeout(state.retryTimer); };
const showPayError = (text) => { $('payment-message').textContent = text; if (text) $('payment-message').focus(); };

function offerRetry(text, label, action, wait = 0) {
  say(wait ? `${text} You can try again in ${wait} seconds.` : text);
  Object.assign($('retry'), { textContent: label, hidden: false, disabled: wait > 0, onclick: () => { say(''); action(); } });
  state.retryTimer = setTimeout(() => { $('retry').disabled = false; }, wait * 1000);
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
    q[p.id] ??= i ? 0 : 1;
    const li = Object.assign(document.createElement('li'), { className: 'product' });
    li.innerHTML = '<div class="product-text"><h3></h3><p></p></div><p class="price"></p>'
      + '<div class="qty"><label>Quantity<span class="visually-hidden"></span></label>'
      + '<input type="number" inputmode="numeric" min="0" max="99"></div>';
    const [h3, desc, price, label, input] = /** @type {any} */ (li.querySelectorAll('h3, p, label, input'));
    h3.textContent = p.name;
    desc.textContent = p.description;
    price.textContent = money(p.unitAmount, p.currency);
    label.lastChild.textContent = ` of ${p.name}`;
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
  const q = state.checkout.quantities;
  return state.config.products.filter((p) => q[p.id] > 0).map((p) => ({ productId: p.id, quantity: q[p.id] }));
}

function setCartDisabled(disabled) {
  for (const input of $('cart').querySelectorAll('input')) input.disabled = disabled;
}

function cartChanged() {
  clearTimeout(state.syncTimer);
  const empty = !cartItems().length;
  $('cart-error').textContent = empty ? 'Choose at least one item to continue.' : '';
  state.syncTimer = empty ? 0 : setTimeout(syncIntent, 400);
  if (empty) { // and a sync on its way must not bring an amount back
    state.intent = null;
    state.syncing = false;
    state.syncSeq++;
    $('amount').textContent = '–';
  }
  updatePayButton();
}

function postCart() {
  const body = { checkoutId: state.checkout.id, items: cartItems() };
  const email = $('email');
  if (email.value && email.checkValidity()) body.email = email.value.trim();
  return api('/api/payment-intents', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
}

async function useIntent(intent) {
  const previous = state.intent;
  const refresh = state.amountStale || previous?.amount !== intent.amount;
  state.intent = intent;
  state.amountStale = true;
  $('amount').textContent = money(intent.amount, intent.currency);
  if (previous?.clientSecret !== intent.clientSecret) mountPaymentElement(intent.clientSecret);
  // fetchUpdates() resolves with {error} rather than rejecting
  else if (refresh && (await state.elements.fetchUpdates()).error) throw Error('The payment form could not be updated.');
  state.amountStale = false;
}

async function syncIntent() {
  state.syncTimer = 0;
  const seq = ++state.syncSeq;
  state.syncing = true;
  updatePayButton();
  try {
    const intent = await postCart();
    if (seq !== state.syncSeq) return;
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
  if (code === 'checkout_expired' && !state.renewed) { // abandoned: renew
    state.renewed = true;
    saveCheckout({ id: crypto.randomUUID() });
    return syncIntent();
  }
  if (code === 'checkout_locked' || code === 'checkout_attempts_exhausted') return lockCheckout(message);
  if (code === 'checkout_busy') return void (state.syncTimer = setTimeout(syncIntent, 1000)); // another tab
  // Stripe may hold a new amount: no paying until the server answers
  state.amountStale = true;
  $('amount').textContent = '–';
  offerRetry(message, 'Try again', cartChanged, wait);
}

const lock = () => { state.locked = true; setCartDisabled(true); $('payment').hidden = true; };
const lockCheckout = (message) => { lock(); say(message); offerNewCheckout(); };
const offerNewCheckout = () => { $('new-checkout').hidden = false; $('new-checkout').focus(); };

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
  const priced = state.intent && !state.amountStale && !state.syncTimer && !state.syncing;
  Object.assign($('pay-button'), {
    disabled: !priced || !state.elementReady || state.paying || state.locked,
    textContent: state.paying ? 'Processing…' : priced ? `Pay ${money(state.intent.amount, state.intent.currency)}` : 'Pay',
  });
  $('payment-form').ariaBusy = state.paying || state.syncing;
}

function describePaymentError({ code = '', type = '', message = '' } = {}) {
  if (code === 'payment_intent_authentication_failure') return 'Your bank did not confirm this payment (3D Secure). Try another card.';
  return /^(card|validation)_error$/.test(type) ? message : NOT_COMPLETED;
}

async function pay(event) {
  event.preventDefault();
  if ($('pay-button').disabled) return;
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

async function attemptPayment() {
  const { clientSecret, amount } = state.intent;
  // First, inside the click: wallets need it before any other await.
  const { error: invalid } = await state.elements.submit();
  if (invalid) return describePaymentError(invalid);
  try { // Stripe must hold the amount shown
    const fresh = await postCart();
    if (fresh.clientSecret !== clientSecret || fresh.amount !== amount) {
      await useIntent(fresh);
      return `The amount is now ${money(fresh.amount, fresh.currency)}. Check it, then press Pay again.`;
    }
  } catch (err) {
    return syncFailed(err);
  }
  saveCheckout({ confirming: clientSecret });
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

function awaitOrder(paymentIntentId, clientSecret) {
  saveCheckout({ submitted: { paymentIntentId, clientSecret }, confirming: null });
  showLocked({ status: 'pending' });
  pollOrder(paymentIntentId, clientSecret);
}

const showLocked = (order) => { lock(); showOrder(order); $('order-status').focus(); };

// Stripe awaits the shopper elsewhere (say, micro-deposits)
function actionNeeded({ next_action: next }, clientSecret) {
  const url = Object.values(next[next.type] || {}).find((v) => /^https:/.test(v));
  showLocked({ status: 'requires_action' });
  const detail = $('order-detail');
  if (next.type === 'verify_with_microdeposits') detail.textContent = 'Verify the small deposit in your bank account: ';
  if (url) Object.assign(detail.appendChild(document.createElement('a')), { href: url, textContent: 'Stripe’s instructions' });
  offerRetry('', 'Check again', () => resume(clientSecret));
}

const STATUS_TEXT = {
  pending: 'Confirming your payment…',
  processing: 'Your payment is processing…',
  paid: 'Paid. Thank you, your order is confirmed.',
  failed: 'The payment failed.',
  canceled: 'This order was canceled.',
  refunded: 'This order was refunded.',
  needs_review: 'Paid. We are reviewing your order and will contact you.',
  disputed: 'This payment is disputed with your bank.',
  dispute_lost: 'Your bank reversed this payment after a dispute.',
  requires_action: 'Action needed to complete your payment.',
};

function showOrder({ status, amount, currency, refundedAmount, lastPaymentError }) {
  $('result').hidden = false;
  Object.assign($('order-status'), { textContent: STATUS_TEXT[status] || status }).dataset.status = status;
  $('order-detail').textContent = [
    amount != null && `Amount: ${money(amount, currency)}.`,
    refundedAmount > 0 && `Refunded ${money(refundedAmount, currency)} of ${money(amount, currency)}.`,
    status === 'failed' && lastPaymentError?.message,
  ].filter(Boolean).join(' ');
}

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
      // An earlier attempt's `failed`, until this payment's webhook lands? Ask Stripe.
      const intent = order.status === 'failed' && await retrieve(clientSecret);
      unknown = intent === undefined;
      if (intent && intent.status !== 'requires_payment_method') order.status = 'pending';
      if (!unknown) showOrder(order);
      if (!unknown && !WAITING.has(order.status)) return orderFinished(order);
    } catch (err) {
      if (err.status < 500 && err.status !== 404) return offerRetry(err.message, 'Check again', again);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  offerRetry(unknown ? 'We could not check your payment.'
    : 'No confirmation yet: your payment may still be processing.', 'Check again', again);
}

function orderFinished(order) {
  if (order.status === 'failed') { // the shopper may pay again
    saveCheckout({ submitted: null });
    state.locked = false;
    state.paying = false;
    $('payment').hidden = false;
    setCartDisabled(false);
    cartChanged();
    return showPayError(NOT_COMPLETED);
  }
  sessionStorage.removeItem(KEY);
  offerNewCheckout();
}

// After a redirect or reload: no new checkout while a payment may succeed.
async function resume(clientSecret) {
  const intent = await retrieve(clientSecret);
  if (!intent) return offerRetry('We could not load your payment.', 'Try again', () => resume(clientSecret));
  if (PAID_INTENT.has(intent.status)) return awaitOrder(intent.id, clientSecret);
  if (intent.status === 'requires_action') {
    if (!/^(use_stripe_sdk|redirect_to_url)$/.test(intent.next_action.type)) return actionNeeded(intent, clientSecret);
    setCartDisabled(true);
    showPayError('Your payment is not finished. Enter your card again and press Pay.');
  } else {
    saveCheckout({ confirming: null });
    showPayError(intent.last_payment_error?.message || NOT_COMPLETED);
  }
  cartChanged();
}

async function start() {
  $('payment-form').addEventListener('submit', pay);
  $('new-checkout').onclick = () => { sessionStorage.removeItem(KEY); location.assign(location.pathname); };
  const email = $('email');
  email.addEventListener('change', () => {
    const bad = !email.checkValidity();
    email.ariaInvalid = bad;
    $('email-error').textContent = bad ? 'Check your email address, or leave it empty.' : '';
    if (!bad && cartItems().length) cartChanged();
  });
  try {
    state.config = await api('/api/config');
    state.stripe = Stripe(state.config.publishableKey);
  } catch (err) {
    $('cart-loading').textContent = `${state.config ? 'The payment form could not load.' : err.message} Reload the page to try again.`;
    return;
  }
  state.checkout = loadCheckout();
  $('cart-loading').hidden = true;
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
