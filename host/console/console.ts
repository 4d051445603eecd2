/**
 * The simtap operator console, in the browser: the login form, the session on `/v1/console`, the connection state in
 * the header, the hash router (`#/live`, `#/cards`, `#/money`) and the polling of the page shown.
 *
 * Served by the platform at `/console/` under a strict CSP (`script-src 'self'`, `style-src 'self'`, no inline
 * anything): this bundle is the page's only script, and it builds every dynamic element through the DOM.
 * @module
 */
import { CardsPage } from './cards';
import { $ } from './dom';
import { LivePage } from './live';
import { MoneyPage } from './money';
import type { Context, Page } from './page';
import {
  CONSOLE_PATH,
  type ConnState,
  describeError,
  INSECURE_CONTEXT,
  importSecret,
  RpcError,
  Session,
} from './session';

const TOAST_MS = { ok: 6000, error: 12_000 } as const;
/** After an event, the page shown is fetched again this much later (a burst of events makes one fetch). */
const SOON_MS = 1000;

const loginView = $('#login-view');
const loginForm = $<HTMLFormElement>('#login');
const loginError = $('[data-testid=login-error]');
const loginButton = $<HTMLButtonElement>('button[type=submit]', loginForm);
const appView = $('#app');
const nav = $('#nav');
const conn = $('[data-testid=conn]');
const who = $('#who');
const logout = $<HTMLButtonElement>('#logout');
const toastEl = $('[data-testid=toast]');

/** The session while logged in (or logging in); the operator's key lives only inside it. */
let session: Session | undefined;
let toastTimer: ReturnType<typeof setTimeout> | undefined;

const ctx: Context = {
  call: <T>(method: string, params?: object) =>
    session === undefined
      ? Promise.reject(new RpcError('not logged in', 0, 'DISCONNECTED'))
      : session.call<T>(method, params),
  connected: () => session?.ready === true,
  soon,
  toast,
};

const pages: readonly Page[] = [new LivePage(ctx), new CardsPage(ctx), new MoneyPage(ctx)];
let current: Page = pages[0]!;
let pollTimer: ReturnType<typeof setInterval> | undefined;
let soonTimer: ReturnType<typeof setTimeout> | undefined;
/** Pages with a fetch in flight: a slow answer does not pile up polls. */
const busy = new Set<Page>();

// ---------------------------------------------------------------- login

// Without this script the form cannot be sent (its only button is disabled in the markup), so a secret never
// leaves the page in a form submission.
loginButton.disabled = false;
if (globalThis.crypto?.subtle === undefined) showLoginError(INSECURE_CONTEXT);

loginForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void logIn();
});

async function logIn(): Promise<void> {
  const clientIdInput = loginForm.elements.namedItem('clientId') as HTMLInputElement;
  const secretInput = loginForm.elements.namedItem('secret') as HTMLInputElement;
  const clientId = clientIdInput.value.trim();
  const secret = secretInput.value;
  secretInput.value = ''; // the secret leaves the DOM at once, valid or not
  if (session !== undefined) return;
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(clientId)) {
    showLoginError('the client id is 1–64 characters of A–Z a–z 0–9 . _ : -');
    return;
  }
  let key: CryptoKey;
  try {
    key = await importSecret(secret);
  } catch (err) {
    showLoginError(describeError(err));
    return;
  }
  loginError.hidden = true;
  loginButton.disabled = true;
  loginButton.textContent = 'Logging in…';
  const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  try {
    session = new Session(scheme + location.host + CONSOLE_PATH, clientId, key, {
      state: showState,
      ready: onReady,
      ended: onEnded,
      notification: (method, params) => {
        if (params === null || typeof params !== 'object') return;
        for (const p of pages) p.event(method, params);
      },
    });
  } catch (err) {
    // `new WebSocket` refused the URL: nothing was sent; the key goes with this function's frame.
    showState('closed', 'logged out');
    onEnded(`could not open the connection: ${describeError(err)}`);
  }
}

logout.addEventListener('click', () => session?.end());

function showLoginError(text: string): void {
  loginError.textContent = text;
  loginError.hidden = false;
}

/** Logged in (first time or after a reconnection): show the console and fetch the page shown again. */
function onReady(): void {
  if (!loginView.hidden) {
    loginView.hidden = true;
    appView.hidden = false;
    nav.hidden = false;
    logout.hidden = false;
    who.hidden = false;
    who.textContent = session?.clientId ?? '';
    route();
  } else void refresh(current);
}

/** The session is over (logged out, refused, or the first connection failed): back to the login form. */
function onEnded(reason: string): void {
  session = undefined;
  clearInterval(pollTimer);
  for (const p of pages) p.clear();
  appView.hidden = true;
  nav.hidden = true;
  logout.hidden = true;
  who.hidden = true;
  loginView.hidden = false;
  loginButton.disabled = false;
  loginButton.textContent = 'Log in';
  if (reason !== '') showLoginError(reason);
  else loginError.hidden = true;
  $<HTMLInputElement>('input[name=secret]', loginForm).focus();
}

function showState(state: ConnState, text: string, detail?: string): void {
  conn.dataset.state = state;
  conn.textContent = text;
  if (detail === undefined) conn.removeAttribute('title');
  else conn.title = detail;
}

// ---------------------------------------------------------------- pages

/** Shows the page of the hash (default `#/live`) and polls it while shown. */
function route(): void {
  const found = pages.find((p) => p.route === location.hash);
  if (found === undefined) {
    history.replaceState(null, '', '#/live');
    current = pages[0]!;
  } else current = found;
  for (const p of pages) p.section.hidden = p !== current;
  for (const a of nav.querySelectorAll<HTMLAnchorElement>('a[href^="#/"]')) {
    if (a.getAttribute('href') === current.route) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clearInterval(pollTimer);
  pollTimer = undefined;
  if (session === undefined) return;
  void refresh(current);
  const page = current;
  if (page.periodMs > 0) pollTimer = setInterval(() => void refresh(page), page.periodMs);
}

window.addEventListener('hashchange', route);

/** Fetches `page` again, unless not connected or a fetch of it is in flight; errors go to the toast. */
async function refresh(page: Page): Promise<void> {
  if (!ctx.connected() || busy.has(page)) return;
  busy.add(page);
  try {
    await page.refresh();
  } catch (err) {
    if (session !== undefined) toast(describeError(err), 'error');
  } finally {
    busy.delete(page);
  }
}

function soon(page: Page): void {
  if (page !== current || soonTimer !== undefined) return;
  soonTimer = setTimeout(() => {
    soonTimer = undefined;
    if (page === current) void refresh(page);
  }, SOON_MS);
}

// ---------------------------------------------------------------- toast

/** One line at the bottom of the screen, read out by screen readers (`role=status`). */
function toast(text: string, kind: 'ok' | 'error' = 'ok'): void {
  toastEl.textContent = text;
  toastEl.dataset.kind = kind;
  toastEl.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toastEl.hidden = true;
  }, TOAST_MS[kind]);
}

toastEl.addEventListener('click', () => {
  toastEl.hidden = true;
});
