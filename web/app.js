// The checkout page: the cart, priced by the server; Stripe's Payment Element; then the order.
// docs/architecture.md, "The checkout page", tells the whole story; the comments here say why.
//
// Served as written: no build step, no framework. tsc type-checks it against Stripe.js's
// published types (tsconfig.json), and compiles nothing.

/** The sessionStorage key of this tab's checkout (see SavedCheckout). */
const STORAGE_KEY = 'checkout';

/** Order statuses that may still change: the page keeps polling while the order is in one. */
const WAITING_STATUSES = new Set(['pending', 'processing']);

/** PaymentIntent statuses after which only the order counts: the money is taken or on its way. */
const PAID_INTENT_STATUSES = new Set(['succeeded', 'processing', 'requires_capture']);

const NOT_COMPLETED = 'Your payment was not completed. Please try again or use another card.';

/** Cart changes wait this long (ms) for the next one, so a burst of clicks is priced once. */
const SYNC_DELAY_MS = 400;

/** After `409 checkout_busy` (another tab is creating this checkout's PaymentIntent), ask again. */
const BUSY_RETRY_MS = 1000;

/** A stocked product with this many units or fewer on sale says "Only N left". */
const FEW_LEFT = 5;

/** The order's status is asked for every second, for 30 s at most, then the shopper decides. */
const POLL_INTERVAL_MS = 1000;
const POLL_DURATION_MS = 30000;

/**
 * This tab's checkout, kept in sessionStorage so that a reload (or a return from a bank's page)
 * finds the same checkout, hence the same PaymentIntent, and knows whether a payment is under way.
 * @typedef {object} SavedCheckout
 * @property {string} id The checkoutId: the server keeps one PaymentIntent per checkout.
 * @property {Record<string, number>} quantities The cart, by product id.
 * @property {string} [promo] The promotion code sent with the cart ('' or absent: none).
 * @property {object | null} [shipping] The complete address (Stripe's shape), sent with the cart.
 * @property {string | null} [confirming] The client secret while a confirmation may be under way.
 * @property {{paymentIntentId: string, clientSecret: string} | null} [submitted] Once the payment
 *   went through (or is on its way): from then on only the order counts.
 */

/** Everything the page knows that changes, in one place. */
const state = {
  /** `GET /api/config`: the publishable key, the currency and the catalog (the only prices). */
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
  /** The server's last answer for the cart (clientSecret, amount, currency): the amount shown. */
  intent: null,
  /** The Payment Element may not hold the amount shown: no paying until it surely does. */
  amountStale: false,
  /** Numbers each cart sync, so that the answer for an older cart is dropped. */
  syncSeq: 0,
  /** The debounced sync waiting to start (a setTimeout id; 0 when none). */
  syncTimer: 0,
  /** A sync is in flight. */
  syncing: false,
  /** Enables the retry button once a 429's Retry-After has passed. */
  retryTimer: 0,
  /** The Payment Element reported `ready`. */
  elementReady: false,
  /** A confirmation is in flight: Pay stays disabled, so a double click pays once. */
  paying: false,
  /** The cart can no longer change: the payment went through, or the server closed the checkout. */
  locked: false,
  /** An expired checkout was just renewed: if the new one expires too, say so (no loop). */
  renewed: false,
  /**
   * What the server changed in the cart (products taken off sale, quantities lowered to the
   * stock left): said until the shopper changes the cart.
   */
  cartNotice: '',
};

/** @type {(id: string) => any} */
const byId = (id) => document.getElementById(id);

/** Formats an amount in the currency's minor unit (cents): Intl knows each currency's decimals. */
function money(minor, currency) {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
  return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
}

/** The page-wide message (a live region); any retry offered with the previous one goes away. */
function showStatus(text) {
  byId('status-message').textContent = text;
  byId('retry').hidden = true;
  clearTimeout(state.retryTimer);
}

/** The message under Pay; focused, so a screen reader says it and a keyboard user is there. */
function showPayError(text) {
  byId('payment-message').textContent = text;
  if (text) {
    byId('payment-message').focus();
  }
}

/** Says `text` and offers `label` to run `action`, after `wait` seconds (a 429's Retry-After). */
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

/**
 * Calls our backend. Resolves with the JSON body; rejects with an Error whose message is for the
 * shopper (the server's own, when it sent one), with the HTTP `status`, the server's error `code`,
 * `wait`, the seconds of a Retry-After, `products`, the ids a 409 product_unavailable names, and
 * `available`, the units a 409 out_of_stock says are left ({productId: units}).
 */
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
    // Unreadable: start a new checkout.
  }
  return { id: crypto.randomUUID(), quantities: {} };
}

/** @param {Partial<SavedCheckout>} [changes] */
function saveCheckout(changes) {
  Object.assign(state.checkout, changes);
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state.checkout));
}

function renderProducts() {
  // Products taken off sale since this cart was filled: dropped, and the shopper is told.
  const listed = new Set(state.config.products.map((product) => product.id));
  const gone = Object.keys(state.checkout.quantities).filter(
    (id) => !listed.has(id) && state.checkout.quantities[id] > 0,
  );
  removeProducts(gone);
  const items = state.config.products.map((product, index) => {
    // A first visit starts with one of the first product in the cart, unless it is sold out.
    state.checkout.quantities[product.id] ??= index === 0 && product.available !== 0 ? 1 : 0;
    return productItem(product);
  });
  byId('products').replaceChildren(...items);
  state.config.products.forEach(showStock);
}

/** One product's line: name, description, stock left, unit price, and its quantity field. */
function productItem(product) {
  const quantities = state.checkout.quantities;
  const item = document.createElement('li');
  item.className = 'product';
  // Only fixed markup here: the catalog's text goes in through textContent, never as HTML.
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
  // The stock left is read out with the field it limits.
  input.setAttribute('aria-describedby', stock.id);
  name.textContent = product.name;
  description.textContent = product.description;
  price.textContent = money(product.unitAmount, product.currency);
  // Heard, not seen: each field says which product it counts.
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
 * Shows how many units of a stocked product are left (`available`: null when not stocked).
 * A sold-out product's field is disabled, unless the cart still has some (held for it: the
 * catalog's count does not include this checkout's own hold; the server answers for those).
 */
function showStock(product) {
  const left = product.available;
  const few = left != null && left <= FEW_LEFT;
  byId(`stock-${product.id}`).textContent = left === 0 ? 'Sold out' : few ? `Only ${left} left` : '';
  const input = byId(`qty-${product.id}`);
  const soldOut = left === 0 && !(state.checkout.quantities[product.id] > 0);
  input.dataset.soldOut = String(soldOut);
  input.disabled = soldOut || state.locked;
}

/**
 * A 409 out_of_stock: each product short of units is lowered to what is left for this checkout
 * (`available`, its own hold included), and the shopper is told which. Returns that message.
 */
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
  return state.cartNotice;
}

/**
 * Takes products the shop no longer sells out of the cart and the list, and says so: the
 * shopper pays for the rest.
 */
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

/** The cart as the server takes it; the server prices it from its own catalog. */
function cartItems() {
  const quantities = state.checkout.quantities;
  return state.config.products
    .filter((product) => quantities[product.id] > 0)
    .map((product) => ({ productId: product.id, quantity: quantities[product.id] }));
}

function setCartDisabled(disabled) {
  // (The promo code's buttons too.)
  for (const input of byId('cart').querySelectorAll('input, button')) {
    // A sold-out product's field stays disabled.
    input.disabled = disabled || input.dataset.soldOut === 'true';
  }
}

/** The cart (or the email) changed: price it again once the shopper pauses. */
function cartChanged() {
  clearTimeout(state.syncTimer);
  const empty = cartItems().length === 0;
  byId('cart-error').textContent = empty ? 'Choose at least one item to continue.' : '';
  if (empty) {
    state.syncTimer = 0;
    // Nothing to pay; and a sync already on its way must not bring an amount back.
    state.intent = null;
    state.syncing = false;
    state.syncSeq++;
    byId('amount').textContent = '–';
  } else {
    state.syncTimer = setTimeout(syncIntent, SYNC_DELAY_MS);
  }
  updatePayButton();
}

/** Sends the cart; the answer is this checkout's PaymentIntent, priced by the server. */
function postCart() {
  const body = { checkoutId: state.checkout.id, items: cartItems() };
  const email = byId('email');
  // An invalid email is never sent: the field says so, and the receipt simply has no address.
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

/**
 * Shows the server's answer and makes the Payment Element hold the same PaymentIntent and
 * amount: a new client secret mounts a new Element, a new amount refreshes the current one.
 */
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
    // fetchUpdates() resolves with {error} when it fails; it does not reject.
    const { error } = await state.elements.fetchUpdates();
    if (error) {
      throw Error('The payment form could not be updated.');
    }
  }
  showAddress();
  state.amountStale = false;
}

/** The Address Element, only while the cart holds something to ship. */
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

/** Prices the current cart on the server; only the answer for the latest cart counts. */
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

/**
 * Handles a failed sync, and tells the shopper itself; returns what Pay should say, if anything.
 */
function syncFailed({ code, message, wait, products, available, minimumAmount }) {
  if (state.checkout.promo && (code?.startsWith('promotion_code_') || code === 'amount_too_small')) {
    // The code does not apply to this cart: said next to the field; the cart is priced without it.
    const minimum = minimumAmount ? ` Spend at least ${money(minimumAmount, state.config.currency)}.` : '';
    promoRefused(`${message}${minimum}`);
    return;
  }
  if (code === 'out_of_stock') {
    // Nothing was held for this cart: the shopper gets what is left, priced again, and checks.
    lowerToStock(available);
    cartChanged();
    return 'Not enough in stock: your cart changed. Check it, then press Pay again.';
  }
  if (code === 'product_unavailable' && products.length) {
    // Taken off sale since the page loaded: the rest is priced again, and Pay waits for it.
    removeProducts(products);
    renderProducts();
    cartChanged();
    return;
  }
  if (code === 'checkout_expired' && !state.renewed) {
    // The reconciler canceled this abandoned checkout's PaymentIntent: start a new checkout
    // with the same cart, without a word.
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
  // Stripe may hold a new amount already: no paying until the server answers again.
  state.amountStale = true;
  byId('amount').textContent = '–';
  offerRetry(message, 'Try again', cartChanged, wait);
}

/** No more changes to this cart, and no more paying from this page's form. */
function lockCart() {
  state.locked = true;
  setCartDisabled(true);
  byId('payment').hidden = true;
}

/** The server will not take another payment for this checkout: explain, and offer a new one. */
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

/** Pay works only when the server's amount for this very cart is the one Stripe holds. */
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

/** Only Stripe's card and validation messages are written for shoppers; others are not shown. */
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
  // Stripe.js throws (rather than answering {error}) when it is misused.
  const message = await attemptPayment().catch(() => describePaymentError());
  state.paying = false;
  setCartDisabled(state.locked);
  updatePayButton();
  if (message) {
    showPayError(message);
  }
}

/** Tries to pay; resolves with what to say under Pay, if anything. */
async function attemptPayment() {
  const { clientSecret, amount } = state.intent;
  // First, while still inside the click: wallets need it before any other await.
  const { error: invalid } = await state.elements.submit();
  if (invalid) {
    return describePaymentError(invalid);
  }
  // Stripe must hold the amount shown: ask the server for the cart's price once more.
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

/** The payment went through or is on its way: from now on, only the order counts. */
function awaitOrder(paymentIntentId, clientSecret) {
  saveCheckout({ submitted: { paymentIntentId, clientSecret }, confirming: null });
  showLockedOrder({ status: 'pending' });
  pollOrder(paymentIntentId, clientSecret);
}

/** The form goes away, so focus moves to the order's status. */
function showLockedOrder(order) {
  lockCart();
  showOrder(order);
  byId('order-status').focus();
}

/**
 * Stripe awaits the shopper elsewhere (say, a US bank debit waiting for micro-deposits): the
 * payment is under way, not failed. `confirming` stays, so a reload asks Stripe again.
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

/** The order as the server knows it; `data-status` carries the raw status. */
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
    // The latest decline, in the bank's words.
    details.push(lastPaymentError.message);
  }
  byId('order-detail').textContent = details.join(' ');
}

/** Stripe's view of the PaymentIntent; undefined when Stripe did not answer. */
async function retrieveFromStripe(clientSecret) {
  try {
    return (await state.stripe.retrievePaymentIntent(clientSecret)).paymentIntent;
  } catch {
    return undefined;
  }
}

/**
 * Shows the order until its status is final (the webhook, the reconciler or the server's own
 * check with Stripe moves it on); after 30 s the shopper can check again.
 */
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
      // No answer, a 404 (the order is not written yet) or a 5xx: ask again next time.
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
    // The PaymentIntent is open again: the shopper may pay again, with this same checkout.
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

/**
 * After a reload, or back from a bank's page, with a confirmation that may be under way: ask
 * Stripe before showing anything. No new checkout is offered while a payment may still succeed.
 */
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

/** The discount line, and the code's field, as the server's answer says (nothing computed). */
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

/** Email typos are shown, never dropped silently; a valid change re-sends the cart with it. */
function emailChanged() {
  const email = byId('email');
  const invalid = !email.checkValidity();
  email.ariaInvalid = invalid;
  byId('email-error').textContent = invalid ? 'Check your email address, or leave it empty.' : '';
  if (!invalid && cartItems().length) {
    cartChanged();
  }
}

/** An email's link (?order=&view=): that order's status, by its view token; no checkout. */
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
  // Stripe's return_url after a redirect carries the client secret; drop it from the address bar.
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
