// Types for tsc's check of web/app.js (see tsconfig.json); never served.
// The page loads https://js.stripe.com/v3/, which defines the global `Stripe`.
declare const Stripe: import('@stripe/stripe-js').StripeConstructor;
