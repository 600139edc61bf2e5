// The checkout page, served as written (docs/architecture.md, "The checkout page").
// tsc checks it against Stripe.js's published types (tsconfig.json).

const STORAGE_KEY = 'checkout';

/** The order may still change: polling goes on. */
const WAITING_STATUSES = new Set(['pending', 'processing']);

/** From these on, only the order counts: the money is taken or on its way. */
const PAID_INTENT_STATUSES = new Set(['succeeded', 'processing', 'requires_capture']);

const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

/** So that a burst of clicks is priced once. */
const SYNC_DELAY_MS = 400;

/** After 409 checkout_busy: another tab is creating the PaymentIntent. */
const BUSY_RETRY_MS = 1000;

const FEW_LEFT = 5;

/** Then the shopper decides whether to check again. */
const POLL_INTERVAL_MS = 1000;
const POLL_DURATION_MS = 30000;

/**
 * This tab's checkout: a reload, or a return from the bank, finds the same PaymentIntent.
 * @typedef {object} SavedCheckout
 * @property {string} id The checkoutId: one PaymentIntent per checkout.
 * @property {Record<string, number>} quantities By product id.
 * @property {string} [promo] '' or absent: none.
 * @property {object | null} [shipping] The complete address, in Stripe's shape.
 * @property {string | null} [confirming] The client secret while a confirmation may be under way.
 * @property {{paymentIntentId: string, clientSecret: string} | null} [submitted] Paid, or on its
 *   way: only the order counts.
 */

/** Everything the page knows that changes. */
const state = {
  /** GET /api/config: the key, the currency and the catalog (the only prices). */
  config: null,
  /** @type {import('@stripe/stripe-js').Stripe} */
  stripe: null,
  /** @type {SavedCheckout} */
  checkout: null,
  /** @type {import('@stripe/stripe-js').StripeElements} */
  elements: null,
  /** @type {import('@stripe/stripe-js').StripePaymentElement} */
  paymentElement: null,
  /** @type {import('@stripe/stripe-js').StripeAddressElement} */
  address: null,
  /** The server's last answer for the cart: the amount shown. */
  intent: null,
  /** Stripe may not hold the amount shown: no paying until it does. */
  amountStale: false,
  /** Numbers the syncs, so that the answer for an older cart is dropped. */
  syncSeq: 0,
  /** 0 when no sync waits. */
  syncTimer: 0,
  syncing: false,
  /** Keeps the retry button disabled until a 429's Retry-After has passed. */
  retryTimer: 0,
  elementReady: false,
  /** Pay stays disabled meanwhile, so a double click pays once. */
  paying: false,
  /** Paid, or closed by the server. */
  locked: false,
  /** Renewed after expiring: if the new checkout expires too, say so (no loop). */
  renewed: false,
  /** What the server changed in the cart: said until the shopper changes it. */
  cartNotice: '',
};

/** @type {(id: string) => any} */
const byId = (id) => document.getElementById(id);

/** `minor`: cents, say; Intl knows each currency's decimals. */
function money(minor, currency) {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
}

/** A retry offered with the previous message goes with it. */
function showStatus(text) {
  byId('status-message').textContent = text;
  byId('retry').hidden = true;
  clearTimeout(state.retryTimer);
}

/** Focused, so a screen reader says it and a keyboard user is there. */
function showPayError(text) {
  byId('payment-message').textContent = text;
  if (text) {
    byId('payment-message').focus();
  }
}

/** `wait`: a 429's Retry-After, in seconds. */
function offerRetry(text, label, action, wait = 0) {
  showStatus(wait ? `${text} You can try again in ${wait} seconds.` : text);
  const retry = byId('retry');
  retry.textContent = label;
  retry.hidden = false;
  retry.disabled = wait > 0;
  retry.onclick = () => {
    showStatus('');
    action();
  };
  state.retryTimer = setTimeout(() => {
    retry.disabled = false;
  }, wait * 1000);
}

/** Rejects with an Error whose message is for the shopper, and the server's details. */
async function api(path, options) {
  const response = await fetch(path, options).catch(() => {
    throw Error('We could not reach the shop. Check your connection.');
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    return body;
  }
  const error = body.error || {};
  throw Object.assign(Error(error.message || 'Something went wrong. Please try again.'), {
    status: response.status,
    code: error.code,
    wait: Number(response.headers.get('Retry-After')) || 0,
    products: error.products || [],
    available: error.available || {},
    minimumAmount: error.minimumAmount,
  });
}

/** @returns {SavedCheckout} */
function loadCheckout() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    if (typeof saved?.id === 'string') {
      return { quantities: {}, ...saved };
    }
  } catch {
    // Unreadable: a new checkout.
  }
  return { id: crypto.randomUUID(), quantities: {} };
}

/** @param {Partial<SavedCheckout>} [changes] */
function saveCheckout(changes) {
  Object.assign(state.checkout, changes);
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state.checkout));
}

function renderProducts() {
  // Taken off sale since this cart was filled.
  const listed = new Set(state.config.products.map((product) => product.id));
  const gone = Object.keys(state.checkout.quantities).filter(
    (id) => !listed.has(id) && state.checkout.quantities[id] > 0,
  );
  removeProducts(gone);
  const items = state.config.products.map((product, index) => {
    // A first visit starts with one of the first product, unless it is sold out.
    state.checkout.quantities[product.id] ??= index === 0 && product.available !== 0 ? 1 : 0;
    return productItem(product);
  });
  byId('products').replaceChildren(...items);
  state.config.products.forEach(showStock);
}

function productItem(product) {
  const quantities = state.checkout.quantities;
  const item = document.createElement('li');
  item.className = 'product';
  // Fixed markup only: the catalog's text goes in as textContent, never as HTML.
  item.innerHTML = `
    <div class="product-text"><h3></h3><p></p><p class="stock"></p></div>
    <p class="price"></p>
    <div class="qty">
      <label>Quantity<span class="visually-hidden"></span></label>
      <input type="number" inputmode="numeric" min="0" max="99">
    </div>`;
  const [name, description, stock, price, label, input] = /** @type {any} */ (
    item.querySelectorAll('h3, p, label, input')
  );
  stock.id = `stock-${product.id}`;
  input.setAttribute('aria-describedby', stock.id);
  name.textContent = product.name;
  description.textContent = product.description;
  price.textContent = money(product.unitAmount, product.currency);
  // Heard, not seen: which product the field counts.
  label.lastChild.textContent = ` of ${product.name}`;
  input.id = `qty-${product.id}`;
  label.htmlFor = input.id;
  input.value = quantities[product.id];
  input.addEventListener('change', () => {
    const typed = Math.trunc(Number(input.value)) || 0;
    quantities[product.id] = Math.min(Number(input.max), Math.max(0, typed));
    state.cartNotice = '';
    input.value = quantities[product.id];
    saveCheckout();
    cartChanged();
  });
  return item;
}

/**
 * `available` is null when not stocked. Sold out still leaves the field enabled while the cart
 * has some: the catalog's count leaves out this checkout's own hold.
 */
function showStock(product) {
  const left = product.available;
  const few = left != null && left <= FEW_LEFT;
  const note = left === 0 ? 'Sold out' : few ? `Only ${left} left` : '';
  byId(`stock-${product.id}`).textContent = note;
  const input = byId(`qty-${product.id}`);
  const soldOut = left === 0 && !(state.checkout.quantities[product.id] > 0);
  input.dataset.soldOut = String(soldOut);
  input.disabled = soldOut || state.locked;
}

/** A 409 out_of_stock: `available` includes this checkout's own hold. */
function lowerToStock(available) {
  const notes = [];
  for (const product of state.config.products) {
    const left = available[product.id];
    if (left == null) {
      continue;
    }
    const wanted = state.checkout.quantities[product.id];
    product.available = left;
    byId(`qty-${product.id}`).max = Math.min(99, left);
    if (wanted > left) {
      state.checkout.quantities[product.id] = left;
      byId(`qty-${product.id}`).value = left;
      notes.push(left ? `only ${left} left of ${product.name}` : `${product.name} is sold out`);
    }
    showStock(product);
  }
  saveCheckout();
  state.cartNotice = notes.length
    ? `Not enough in stock: ${notes.join('; ')}. Your cart now has what is left.`
    : 'Some items are no longer in stock.';
  showStatus(state.cartNotice);
}

/** The shopper can pay for the rest. */
function removeProducts(ids) {
  if (!ids.length) {
    return;
  }
  const names = ids.map((id) => state.config.products.find((p) => p.id === id)?.name || id);
  state.config.products = state.config.products.filter((p) => !ids.includes(p.id));
  for (const id of ids) {
    delete state.checkout.quantities[id];
  }
  saveCheckout();
  state.cartNotice = `No longer available, removed from your cart: ${names.join(', ')}.`;
  showStatus(state.cartNotice);
}

/** No prices: the server prices the cart from its own catalog. */
function cartItems() {
  const quantities = state.checkout.quantities;
  return state.config.products
    .filter((product) => quantities[product.id] > 0)
    .map((product) => ({ productId: product.id, quantity: quantities[product.id] }));
}

function setCartDisabled(disabled) {
  for (const input of byId('cart').querySelectorAll('input, button')) {
    input.disabled = disabled || input.dataset.soldOut === 'true';
  }
}

/** Also for a new email or address: priced again once the shopper pauses. */
function cartChanged() {
  clearTimeout(state.syncTimer);
  const empty = cartItems().length === 0;
  byId('cart-error').textContent = empty ? 'Choose at least one item to continue.' : '';
  if (empty) {
    state.syncTimer = 0;
    // A sync already on its way must not bring an amount back.
    state.intent = null;
    state.syncing = false;
    state.syncSeq++;
    byId('amount').textContent = '–';
  } else {
    state.syncTimer = setTimeout(syncIntent, SYNC_DELAY_MS);
  }
  updatePayButton();
}

/** Answers this checkout's PaymentIntent, priced by the server. */
function postCart() {
  const body = { checkoutId: state.checkout.id, items: cartItems() };
  const email = byId('email');
  // An invalid email is never sent: the field says so.
  if (email.value && email.checkValidity()) {
    body.email = email.value.trim();
  }
  if (state.checkout.promo) {
    body.promotionCode = state.checkout.promo;
  }
  if (state.checkout.shipping) {
    body.shipping = state.checkout.shipping;
  }
  return api('/api/payment-intents', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The Payment Element must hold the same PaymentIntent and amount as the page shows. */
async function adoptIntent(intent) {
  const previous = state.intent;
  const needsRefresh = state.amountStale || previous?.amount !== intent.amount;
  state.intent = intent;
  state.amountStale = true;
  byId('amount').textContent = money(intent.amount, intent.currency);
  showDiscount(intent);
  const shipping = intent.shippingAmount;
  byId('shipping-line').hidden = shipping == null;
  byId('shipping-amount').textContent = shipping ? money(shipping, intent.currency) : 'Free';
  if (previous?.clientSecret !== intent.clientSecret) {
    mountPaymentElement(intent.clientSecret);
  } else if (needsRefresh) {
    // fetchUpdates() answers {error}; it does not reject.
    const { error } = await state.elements.fetchUpdates();
    if (error) {
      throw Error('The payment form could not be updated.');
    }
  }
  showAddress();
  state.amountStale = false;
}

/** Only while the cart holds something to ship. */
function showAddress() {
  const shippable = new Set(state.config.products.filter((p) => p.shippable).map((p) => p.id));
  const needed = cartItems().some((item) => shippable.has(item.productId));
  byId('address').hidden = !needed;
  if (!needed) {
    state.address?.unmount();
    state.address = null;
  } else if (!state.address) {
    state.address = state.elements.create('address', {
      mode: 'shipping',
      allowedCountries: state.config.shippingCountries,
      defaultValues: state.checkout.shipping || undefined,
    });
    state.address.on('change', ({ complete, value }) => {
      const shipping = complete ? value : null;
      if (JSON.stringify(shipping) !== JSON.stringify(state.checkout.shipping)) {
        saveCheckout({ shipping });
        byId('address-error').textContent = '';
        cartChanged();
      }
    });
    state.address.mount('#address-element');
  }
}

/** Only the answer for the latest cart counts. */
async function syncIntent() {
  state.syncTimer = 0;
  const seq = ++state.syncSeq;
  state.syncing = true;
  updatePayButton();
  try {
    const intent = await postCart();
    if (seq !== state.syncSeq) {
      return;
    }
    await adoptIntent(intent);
    state.renewed = false;
    showStatus(state.cartNotice);
  } catch (error) {
    if (seq === state.syncSeq) {
      syncFailed(error);
    }
  } finally {
    if (seq === state.syncSeq) {
      state.syncing = false;
    }
    updatePayButton();
  }
}

/** Tells the shopper; returns what Pay should say, if anything. */
function syncFailed({ code, message, wait, products, available, minimumAmount }) {
  const refused = code?.startsWith('promotion_code_') || code === 'amount_too_small';
  if (state.checkout.promo && refused) {
    // Said next to the field; the cart is priced without the code.
    const minimum = minimumAmount
      ? ` Spend at least ${money(minimumAmount, state.config.currency)}.`
      : '';
    promoRefused(`${message}${minimum}`);
    return;
  }
  if (code === 'out_of_stock') {
    // Nothing was held: the shopper checks what is left before paying.
    lowerToStock(available);
    cartChanged();
    return 'Not enough in stock: your cart changed. Check it, then press Pay again.';
  }
  if (code === 'product_unavailable' && products.length) {
    removeProducts(products);
    renderProducts();
    cartChanged();
    return;
  }
  if (code === 'checkout_expired' && !state.renewed) {
    // The reconciler canceled the abandoned PaymentIntent: a new checkout, same cart, no word.
    state.renewed = true;
    saveCheckout({ id: crypto.randomUUID() });
    return syncIntent();
  }
  if (code === 'checkout_locked' || code === 'checkout_attempts_exhausted') {
    showCheckoutClosed(message);
    return;
  }
  if (code === 'invalid_shipping') {
    byId('address-error').textContent = /country/.test(message)
      ? 'We do not ship to this country.'
      : 'Check your address.';
    return 'Check your shipping address.';
  }
  if (code === 'checkout_busy') {
    state.syncTimer = setTimeout(syncIntent, BUSY_RETRY_MS);
    return;
  }
  // Stripe may hold a new amount already.
  state.amountStale = true;
  byId('amount').textContent = '–';
  offerRetry(message, 'Try again', cartChanged, wait);
}

function lockCart() {
  state.locked = true;
  setCartDisabled(true);
  byId('payment').hidden = true;
}

function showCheckoutClosed(message) {
  lockCart();
  showStatus(message);
  offerNewCheckout();
}

function offerNewCheckout() {
  byId('new-checkout').hidden = false;
  byId('new-checkout').focus();
}

function mountPaymentElement(clientSecret) {
  state.paymentElement?.unmount();
  state.address?.unmount();
  state.address = null;
  state.elementReady = false;
  state.elements = state.stripe.elements({
    clientSecret,
    appearance: { variables: { colorPrimary: '#0b57d0', borderRadius: '6px' } },
  });
  const element = state.elements.create('payment');
  state.paymentElement = element;
  element.on('ready', () => {
    state.elementReady = true;
    updatePayButton();
  });
  element.on('change', () => showPayError(''));
  element.on('loaderror', () => {
    offerRetry('The payment form could not load.', 'Try again', () => {
      mountPaymentElement(clientSecret);
    });
  });
  element.mount('#payment-element');
  showAddress();
}

/** Only when Stripe holds the server's amount for this very cart. */
function updatePayButton() {
  const priced = state.intent && !state.amountStale && !state.syncTimer && !state.syncing;
  const button = byId('pay-button');
  button.disabled = !priced || !state.elementReady || state.paying || state.locked;
  if (state.paying) {
    button.textContent = 'Processing…';
  } else if (priced) {
    button.textContent = `Pay ${money(state.intent.amount, state.intent.currency)}`;
  } else {
    button.textContent = 'Pay';
  }
  byId('payment-form').ariaBusy = state.paying || state.syncing;
}

/** Only Stripe's card and validation messages are written for shoppers. */
function describePaymentError({ code = '', type = '', message = '' } = {}) {
  if (code === 'payment_intent_authentication_failure') {
    return 'Your bank did not confirm this payment (3D Secure). Try another card.';
  }
  return /^(card|validation)_error$/.test(type) ? message : NOT_COMPLETED;
}

async function pay(event) {
  event.preventDefault();
  if (byId('pay-button').disabled) {
    return;
  }
  state.paying = true;
  setCartDisabled(true);
  showPayError('');
  updatePayButton();
  // Stripe.js throws, rather than answering {error}, when misused.
  const message = await attemptPayment().catch(() => describePaymentError());
  state.paying = false;
  setCartDisabled(state.locked);
  updatePayButton();
  if (message) {
    showPayError(message);
  }
}

/** Resolves with what to say under Pay, if anything. */
async function attemptPayment() {
  const { clientSecret, amount } = state.intent;
  // First, while still inside the click: wallets need it before any other await.
  const { error: invalid } = await state.elements.submit();
  if (invalid) {
    return describePaymentError(invalid);
  }
  // Stripe must hold the amount shown: ask the server once more.
  if (state.address) {
    const { complete, value } = await state.address.getValue();
    saveCheckout({ shipping: complete ? value : null });
  }
  try {
    const fresh = await postCart();
    if (fresh.clientSecret !== clientSecret || fresh.amount !== amount) {
      await adoptIntent(fresh);
      const newAmount = money(fresh.amount, fresh.currency);
      return `The amount is now ${newAmount}. Check it, then press Pay again.`;
    }
  } catch (error) {
    return syncFailed(error);
  }
  // For a reload (or a redirect) while the bank decides: see resumePayment.
  saveCheckout({ confirming: clientSecret });
  const { error, paymentIntent } = await state.stripe.confirmPayment({
    elements: state.elements,
    redirect: 'if_required',
    confirmParams: { return_url: location.origin + location.pathname },
  });
  // Paid before (say, in another tab): the error carries the PaymentIntent.
  const intent = paymentIntent || error?.payment_intent;
  if (PAID_INTENT_STATUSES.has(intent?.status)) {
    return awaitOrder(intent.id, clientSecret);
  }
  if (paymentIntent?.status === 'requires_action') {
    return showActionNeeded(paymentIntent, clientSecret);
  }
  saveCheckout({ confirming: null });
  return describePaymentError(error);
}

/** From now on, only the order counts. */
function awaitOrder(paymentIntentId, clientSecret) {
  saveCheckout({ submitted: { paymentIntentId, clientSecret }, confirming: null });
  showLockedOrder({ status: 'pending' });
  pollOrder(paymentIntentId, clientSecret);
}

/** The form goes away: focus moves to the order's status. */
function showLockedOrder(order) {
  lockCart();
  showOrder(order);
  byId('order-status').focus();
}

/**
 * Stripe awaits the shopper elsewhere (say, micro-deposits): under way, not failed.
 * `confirming` stays, so a reload asks Stripe again.
 */
function showActionNeeded(paymentIntent, clientSecret) {
  const next = paymentIntent.next_action;
  const url = Object.values(next[next.type] || {}).find((value) => /^https:/.test(value));
  showLockedOrder({ status: 'requires_action' });
  const detail = byId('order-detail');
  if (next.type === 'verify_with_microdeposits') {
    detail.textContent = 'Verify the small deposit in your bank account: ';
  }
  if (url) {
    const link = detail.appendChild(document.createElement('a'));
    link.href = url;
    link.textContent = 'Stripe’s instructions';
  }
  offerRetry('', 'Check again', () => resumePayment(clientSecret));
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

function showOrder({
  orderNumber,
  status,
  amount,
  currency,
  refundedAmount,
  lastPaymentError,
  soldOut,
}) {
  byId('result').hidden = false;
  const orderStatus = byId('order-status');
  orderStatus.textContent = soldOut
    ? 'Sold out while you paid: your payment is refunded in full.'
    : STATUS_TEXT[status] || status;
  orderStatus.dataset.status = status;
  const details = orderNumber ? [`Order ${orderNumber}.`] : [];
  if (amount != null) {
    details.push(`Amount: ${money(amount, currency)}.`);
  }
  if (refundedAmount > 0) {
    details.push(`Refunded ${money(refundedAmount, currency)} of ${money(amount, currency)}.`);
  }
  if (status === 'failed' && lastPaymentError?.message) {
    details.push(lastPaymentError.message);
  }
  byId('order-detail').textContent = details.join(' ');
}

/** undefined when Stripe did not answer. */
async function retrieveFromStripe(clientSecret) {
  try {
    return (await state.stripe.retrievePaymentIntent(clientSecret)).paymentIntent;
  } catch {
    return undefined;
  }
}

/** Until the order's status is final, or for 30 s. */
async function pollOrder(paymentIntentId, clientSecret) {
  const pollAgain = () => pollOrder(paymentIntentId, clientSecret);
  const deadline = Date.now() + POLL_DURATION_MS;
  let unknown = false;
  while (Date.now() < deadline) {
    try {
      const order = await api(`/api/orders/${encodeURIComponent(paymentIntentId)}`, {
        headers: { 'X-Client-Secret': clientSecret },
      });
      // `failed` may be an earlier attempt's decline, until this payment's webhook lands:
      // believe it only once Stripe agrees. Stripe not answering leaves the status unknown.
      const intent = order.status === 'failed' && (await retrieveFromStripe(clientSecret));
      unknown = intent === undefined;
      if (intent && intent.status !== 'requires_payment_method') {
        order.status = 'pending';
      }
      if (!unknown) {
        showOrder(order);
        if (!WAITING_STATUSES.has(order.status)) {
          return orderFinished(order);
        }
      }
    } catch (error) {
      // No answer, a 404 (not written yet) or a 5xx: ask again.
      if (error.status < 500 && error.status !== 404) {
        return offerRetry(error.message, 'Check again', pollAgain);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  const message = unknown
    ? 'We could not check your payment.'
    : 'No confirmation yet: your payment may still be processing.';
  offerRetry(message, 'Check again', pollAgain);
}

function orderFinished(order) {
  if (order.status === 'failed') {
    // The PaymentIntent is open again: the shopper may pay again, same checkout.
    saveCheckout({ submitted: null });
    state.locked = false;
    state.paying = false;
    byId('payment').hidden = false;
    setCartDisabled(false);
    cartChanged();
    showPayError(NOT_COMPLETED);
    return;
  }
  // A finished checkout is forgotten: the next purchase starts a new one.
  sessionStorage.removeItem(STORAGE_KEY);
  offerNewCheckout();
}

/** After a reload or the bank's page, ask Stripe: no new checkout while a payment may succeed. */
async function resumePayment(clientSecret) {
  const intent = await retrieveFromStripe(clientSecret);
  if (!intent) {
    offerRetry('We could not load your payment.', 'Try again', () => resumePayment(clientSecret));
    return;
  }
  if (PAID_INTENT_STATUSES.has(intent.status)) {
    awaitOrder(intent.id, clientSecret);
    return;
  }
  if (intent.status === 'requires_action') {
    if (!/^(use_stripe_sdk|redirect_to_url)$/.test(intent.next_action.type)) {
      showActionNeeded(intent, clientSecret);
      return;
    }
    // 3D Secure left unfinished: the same cart, finished with Pay.
    setCartDisabled(true);
    showPayError('Your payment is not finished. Enter your card again and press Pay.');
  } else {
    saveCheckout({ confirming: null });
    showPayError(intent.last_payment_error?.message || NOT_COMPLETED);
  }
  cartChanged();
}

/** As the server answered: nothing computed here. */
function showDiscount({ discount, promotionCode, currency }) {
  byId('discount-line').hidden = !promotionCode;
  byId('discount-label').textContent = `Discount (${promotionCode})`;
  byId('discount').textContent = `−${money(discount, currency)}`;
  byId('promo-remove').hidden = !promotionCode;
  byId('promo').ariaInvalid = 'false';
  if (promotionCode) {
    byId('promo').value = promotionCode;
    byId('promo-message').textContent = `Code ${promotionCode} applied.`;
  }
}

function applyPromo() {
  const code = byId('promo').value.trim();
  if (!code) {
    byId('promo-message').textContent = 'Enter a promo code first.';
    return;
  }
  byId('promo-message').textContent = 'Checking the code…';
  saveCheckout({ promo: code });
  cartChanged();
}

function removePromo() {
  saveCheckout({ promo: '' });
  byId('promo').value = '';
  byId('promo-message').textContent = 'Code removed.';
  cartChanged();
  byId('promo').focus();
}

function promoRefused(text) {
  saveCheckout({ promo: '' });
  byId('promo').ariaInvalid = 'true';
  byId('promo-message').textContent = text;
  byId('promo').focus();
  cartChanged();
}

function startNewCheckout() {
  sessionStorage.removeItem(STORAGE_KEY);
  location.assign(location.pathname);
}

/** Typos are shown, never dropped silently. */
function emailChanged() {
  const email = byId('email');
  const invalid = !email.checkValidity();
  email.ariaInvalid = invalid;
  byId('email-error').textContent = invalid ? 'Check your email address, or leave it empty.' : '';
  if (!invalid && cartItems().length) {
    cartChanged();
  }
}

/** An email's link (?order=&view=): that order's status, no checkout. */
async function showViewedOrder(params) {
  byId('cart').hidden = byId('payment').hidden = true;
  try {
    const id = encodeURIComponent(params.get('order'));
    showOrder(await api(`/api/orders/${id}?view=${encodeURIComponent(params.get('view'))}`));
  } catch (error) {
    showStatus(error.message);
  }
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (params.has('view')) {
    return showViewedOrder(params);
  }
  byId('payment-form').addEventListener('submit', pay);
  byId('new-checkout').onclick = startNewCheckout;
  byId('email').addEventListener('change', emailChanged);
  byId('promo-apply').onclick = applyPromo;
  byId('promo-remove').onclick = removePromo;
  byId('promo').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      applyPromo();
    }
  });
  try {
    state.config = await api('/api/config');
    // Throws when Stripe.js did not load.
    state.stripe = Stripe(state.config.publishableKey);
  } catch (error) {
    const problem = state.config ? 'The payment form could not load.' : error.message;
    byId('cart-loading').textContent = `${problem} Reload the page to try again.`;
    return;
  }
  state.checkout = loadCheckout();
  byId('cart-loading').hidden = true;
  renderProducts();
  saveCheckout();

  const { submitted, confirming } = state.checkout;
  // Stripe's return_url carries the client secret: out of the address bar.
  const returned = params.get('payment_intent_client_secret');
  if (returned) {
    history.replaceState(null, '', location.pathname);
  }
  if (returned || confirming) {
    resumePayment(returned || confirming);
  } else if (submitted) {
    awaitOrder(submitted.paymentIntentId, submitted.clientSecret);
  } else {
    cartChanged();
  }
}

start();
