"""The page's contract with Stripe.js: tsc checks web/app.js against Stripe's published types
(@stripe/stripe-js, tsconfig.json), and that check fails on the mistakes it is there to catch."""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TSC = ROOT / "node_modules" / ".bin" / "tsc"

# The calls the page makes, each as written in web/app.js, then with one mistake (`// wrong`).
# A backslash at a line's end continues that line of the snippet (kept under 100 columns).
SNIPPET = """\
const stripe = Stripe('pk_test_x');
const elements = stripe.elements({ clientSecret: 'pi_x_secret_y', appearance: { variables: {} } });
stripe.elements({ clientSecret: 'pi_x_secret_y', apperance: { variables: {} } }); // wrong
const element = elements.create('payment');
element.on('loaderror', () => {});
element.on('load_error', () => {}); // wrong
async function pay() {
  const { error: invalid } = await elements.submit();
  const { errors } = await elements.submit(); // wrong
  const { error } = await elements.fetchUpdates();
  if ((await elements.fetchUpdates()).paymentIntent) return; // wrong
  const params = { return_url: 'https://shop.example/' };
  const { paymentIntent } = await stripe.confirmPayment({ elements, redirect: 'if_required', \
confirmParams: params });
  await stripe.confirmPayment({ elements, redirect: 'if-required', confirmParams: params }); \
// wrong
  await stripe.confirmPayment({ elements, redirect: 'if_required', confirmParam: params }); // wrong
  const { paymentIntnt } = await stripe.confirmPayment({ elements, redirect: 'if_required' }); \
// wrong
  const intent = (await stripe.retrievePaymentIntent('pi_x_secret_y')).paymentIntent;
  return [invalid, error, paymentIntent, intent.last_payment_error?.message, \
intent.next_action?.type,
    intent.last_payment_eror]; // wrong
}
pay();
"""


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    assert TSC.is_file(), "TypeScript is missing: run npm ci"
    return subprocess.run(
        [str(TSC), "--pretty", "false", "-p", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_page_type_checks_against_stripe_js() -> None:
    result = tsc(ROOT / "tsconfig.json")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_misspelled_option_or_a_wrong_result_shape_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "snippet.js").write_text(SNIPPET, encoding="utf-8")
    # The page's settings and its declaration of the global `Stripe`, over the snippet instead.
    config = {
        "extends": str(ROOT / "tsconfig.json"),
        "include": [str(tmp_path / "snippet.js"), str(ROOT / "types" / "*.d.ts")],
    }
    (tmp_path / "tsconfig.json").write_text(json.dumps(config), encoding="utf-8")
    result = tsc(tmp_path)
    assert result.returncode != 0
    wrong = {n for n, line in enumerate(SNIPPET.splitlines(), 1) if line.endswith("// wrong")}
    failed = {int(n) for n in re.findall(r"snippet\.js\((\d+),\d+\): error", result.stdout)}
    # Every mistake is caught, and only the mistakes: the right lines are what app.js does.
    assert failed == wrong, result.stdout
