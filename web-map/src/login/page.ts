/**
 * The login page (登录), shown to a browser without a live session and when a session ends under
 * the page. Signs in through `POST /api/login`, then calls `onLogin` with the user.
 */
import { defineStrings, getLang, onLangChange, setLang, t as tApp } from '../i18n';
import { LoginError, login, type Me } from '../session';
import { h } from '../ui/dom';

const t = defineStrings(
  'login',
  {
    heading: '登录',
    username: '用户名',
    password: '密码',
    submit: '登录',
    busy: '正在登录…',
    expired: '会话已过期，请重新登录。未发送的走访记录已保存在本机，登录后自动发送。',
    failed: '登录失败：{detail}',
    hint: '演示账号见 README（例如 {example}）。',
  },
  {
    heading: 'Sign in',
    username: 'Username',
    password: 'Password',
    submit: 'Sign in',
    busy: 'Signing in…',
    expired: 'Your session has ended; please sign in again. Unsent visits are kept on this device and sent after you sign in.',
    failed: 'Sign-in failed: {detail}',
    hint: 'Demo accounts are listed in the README (e.g. {example}).',
  },
);

/** Mounts the login page into `root`; returns the function that tears it down. */
export function mountLogin(root: HTMLElement, options: { expired?: boolean; onLogin: (user: Me) => void }): () => void {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: false });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'rg-login-submit' });
  const message = h('p', { class: 'rg-login-message', role: 'alert', hidden: !options.expired });
  const usernameLabel = h('span');
  const passwordLabel = h('span');
  const heading = h('h2');
  const hint = h('p', { class: 'rg-login-hint' });
  const form = h(
    'form',
    { class: 'rg-login-form' },
    heading,
    message,
    h('label', null, usernameLabel, username),
    h('label', null, passwordLabel, password),
    submit,
    hint,
  );
  const lang = h('button', { type: 'button', class: 'rg-lang' });
  const title = h('span', { class: 'rg-title' });
  root.replaceChildren(
    h('header', { class: 'rg-header' }, h('h1', null, h('span', { class: 'rg-brand' }, 'rentgrid'), h('span', { class: 'rg-sep' }, ' · '), title), lang),
    h('main', { class: 'rg-login' }, form),
  );
  let busy = false;
  let failure: string | undefined;
  const render = () => {
    title.textContent = tApp('appTitle');
    lang.textContent = tApp('switchLang');
    lang.setAttribute('aria-label', tApp('switchLangLabel'));
    heading.textContent = t('heading');
    usernameLabel.textContent = t('username');
    passwordLabel.textContent = t('password');
    submit.textContent = busy ? t('busy') : t('submit');
    // The example account is one piece: it never breaks at its hyphens.
    const [before, after] = t('hint').split('{example}');
    hint.replaceChildren(before ?? '', h('code', null, 'center / center-demo-2026'), after ?? '');
    if (failure !== undefined) message.textContent = t('failed', { detail: failure });
    else if (options.expired) message.textContent = t('expired');
    document.title = `rentgrid · ${t('heading')}`;
  };
  lang.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  const off = onLangChange(render);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    submit.disabled = true;
    render();
    login(username.value.trim(), password.value)
      .then((user) => options.onLogin(user))
      .catch((error: unknown) => {
        busy = false;
        submit.disabled = false;
        failure = error instanceof LoginError || error instanceof Error ? error.message : String(error);
        message.hidden = false;
        password.value = '';
        render();
        password.focus();
      });
  });
  render();
  username.focus();
  document.documentElement.dataset.login = '1';
  return () => {
    off();
    delete document.documentElement.dataset.login;
  };
}
