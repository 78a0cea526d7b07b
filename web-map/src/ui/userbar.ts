/**
 * The signed-in user in the title bar: name and role (in the UI's language), a link to the
 * account page, and the sign-out button.
 */
import { defineStrings, onLangChange } from '../i18n';
import { logout, me, type Role } from '../session';
import { h } from './dom';

const ROLE_ZH: Record<Role, string> = {
  center: '指挥中心',
  supervisor: '流管办',
  caseworker: '综管员',
  leader: '领导',
  sysadmin: '系统管理员',
  secadmin: '安全管理员',
  auditor: '安全审计员',
};

const ROLE_EN: Record<Role, string> = {
  center: 'Command center',
  supervisor: 'Supervisor',
  caseworker: 'Caseworker',
  leader: 'Leader',
  sysadmin: 'System administrator',
  secadmin: 'Security administrator',
  auditor: 'Auditor',
};

export const t = defineStrings(
  'user',
  { logout: '退出登录', account: '账号', role: '角色' },
  { logout: 'Sign out', account: 'Account', role: 'Role' },
);

/** The role's name in the current language. */
export function roleName(role: Role): string {
  return document.documentElement.lang === 'en' ? ROLE_EN[role] : ROLE_ZH[role];
}

/** The user badge and sign-out button; empty before login. Returns the element and its teardown. */
export function createUserBar(): { element: HTMLElement; destroy: () => void } {
  const name = h('a', { class: 'rg-user-name', href: '?view=account' });
  const button = h('button', { type: 'button', class: 'rg-logout' });
  const element = h('span', { class: 'rg-user' }, name, button);
  const render = () => {
    const user = me();
    element.hidden = !user;
    if (!user) return;
    name.textContent = `${user.username} · ${roleName(user.role)}`;
    name.title = t('account');
    button.textContent = t('logout');
  };
  button.addEventListener('click', () => {
    button.disabled = true;
    void logout().then(() => window.location.assign(window.location.pathname));
  });
  const off = onLangChange(render);
  render();
  return { element, destroy: off };
}
