/**
 * The account page (`?view=account`): who is signed in, what they may see, and their API tokens
 * for QGIS, GDAL and scripts (created and shown once, listed, revoked), and the display scale of
 * this device's views. The three administrators land here: they read no register data.
 */
import { createToken, fetchTokens, revokeToken, type TokenRow } from '../api';
import { defineStrings, getLang, onLangChange, setLang, t as tApp } from '../i18n';
import { me } from '../session';
import { h } from '../ui/dom';
import { createScalePicker } from '../ui/scale';
import { createUserBar, roleName } from '../ui/userbar';

const t = defineStrings(
  'account',
  {
    title: '账号',
    user: '用户名',
    role: '角色',
    street: '街道',
    grids: '网格',
    caseworker: '综管员编号',
    tokens: 'API 令牌（供 QGIS、GDAL 与脚本使用）',
    tokenName: '令牌名称',
    create: '新建令牌',
    created: '新令牌（只显示这一次，请立即复制保存）：',
    revoke: '吊销',
    none: '尚无令牌。',
    createdAt: '创建于 {at}',
    howto: 'GDAL/QGIS：GDAL_HTTP_HEADERS="Authorization: Bearer <令牌>" ogrinfo OAPIF:{origin}/ grids',
    failed: '操作失败：{detail}',
    map: '返回地图',
  },
  {
    title: 'Account',
    user: 'Username',
    role: 'Role',
    street: 'Street',
    grids: 'Grids',
    caseworker: 'Caseworker id',
    tokens: 'API tokens (for QGIS, GDAL and scripts)',
    tokenName: 'Token name',
    create: 'Create token',
    created: 'New token (shown only this once; copy it now):',
    revoke: 'Revoke',
    none: 'No tokens yet.',
    createdAt: 'created {at}',
    howto: 'GDAL/QGIS: GDAL_HTTP_HEADERS="Authorization: Bearer <token>" ogrinfo OAPIF:{origin}/ grids',
    failed: 'Failed: {detail}',
    map: 'Back to the map',
  },
);

/** Mounts the account page into `root`; returns the function that tears it down. */
export function mountAccount(root: HTMLElement): () => void {
  const user = me();
  const bar = createUserBar();
  const lang = h('button', { type: 'button', class: 'rg-lang' });
  lang.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  const title = h('span', { class: 'rg-title' });
  const body = h('section', { class: 'rg-account' });
  const scale = createScalePicker();
  root.replaceChildren(
    h('header', { class: 'rg-header' }, h('h1', null, h('span', { class: 'rg-brand' }, 'rentgrid'), h('span', { class: 'rg-sep' }, ' · '), title), bar.element, lang),
    h('main', { class: 'rg-account-main' }, body),
  );
  let tokens: TokenRow[] = [];
  let fresh: string | undefined;
  let failure: string | undefined;
  const fail = (error: unknown) => {
    failure = error instanceof Error ? error.message : String(error);
    render();
  };
  const reload = () =>
    fetchTokens()
      .then((rows) => {
        tokens = rows;
        render();
      })
      .catch(fail);
  const render = () => {
    title.textContent = t('title');
    lang.textContent = tApp('switchLang');
    document.title = `rentgrid · ${t('title')}`;
    if (!user) return;
    const facts = h(
      'dl',
      { class: 'rg-account-facts' },
      h('dt', null, t('user')),
      h('dd', null, user.username),
      h('dt', null, t('role')),
      h('dd', null, roleName(user.role)),
      ...(user.scope.street ? [h('dt', null, t('street')), h('dd', null, user.scope.street)] : []),
      ...(user.scope.caseworker != null ? [h('dt', null, t('caseworker')), h('dd', null, user.scope.caseworker)] : []),
    );
    const name = h('input', { name: 'name', required: true, maxlength: 60, placeholder: 'QGIS' });
    const form = h('form', { class: 'rg-account-create' }, h('label', null, t('tokenName'), ' ', name), h('button', { type: 'submit' }, t('create')));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      createToken(name.value.trim())
        .then((created) => {
          fresh = created.token;
          failure = undefined;
          return reload();
        })
        .catch(fail);
    });
    const list = tokens.length
      ? h(
          'ul',
          { class: 'rg-account-tokens' },
          ...tokens.map((row) => {
            const revoke = h('button', { type: 'button' }, t('revoke'));
            revoke.addEventListener('click', () => void revokeToken(row.id).then(reload).catch(fail));
            return h('li', null, h('strong', null, row.name), ' ', t('createdAt', { at: row.created_at }), ' ', revoke);
          }),
        )
      : h('p', null, t('none'));
    body.replaceChildren(
      h('h2', null, t('title')),
      facts,
      h('p', { class: 'rg-account-scale' }, scale.element),
      ...(user.role === 'center' || user.role === 'supervisor' ? [h('p', null, h('a', { href: './' }, t('map')))] : []),
      h('h3', null, t('tokens')),
      ...(fresh ? [h('p', { class: 'rg-account-fresh' }, t('created'), ' ', h('code', null, fresh))] : []),
      form,
      list,
      h('p', { class: 'rg-account-howto' }, h('code', null, t('howto', { origin: window.location.origin }))),
      ...(failure ? [h('p', { role: 'alert' }, t('failed', { detail: failure }))] : []),
    );
    document.documentElement.dataset.ready = '1';
  };
  const off = onLangChange(render);
  render();
  void reload();
  return () => {
    off();
    scale.destroy();
    bar.destroy();
    delete document.documentElement.dataset.ready;
  };
}
