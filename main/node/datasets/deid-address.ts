// Postal-address detection for de-identification. An address is a run of administrative and
// street components in their fixed order:
//
//   省/市/自治区 · 市/州 · 区/县/旗 · 街道/镇/乡 · 村 · 路/街/大道/巷/弄/胡同 · N号 · 小区/花园/苑/大厦 · N栋/幢/号楼 · N单元 · N室
//
// It is taken only when it is specific enough to locate a home, and anchored well enough that it
// is not a clinical word that happens to end in 区/室/路 (心前区, 左心室, 尿路):
//   - strong on its own: road + house number (文三路90号), estate + building/unit/room,
//     building + unit, unit + room;
//   - or a known province/city name, or a cue (住在, 家住, 住址：, 地址：, 户籍) in front, plus at
//     least one street-level part (街道/镇/乡/村/路/小区/栋/单元);
//   - or a district/county followed by a street-level part (海淀区学院路, 某某县某某村).
// Not covered: a province or city alone (我在北京工作), districts alone (住在朝阳区), hospital
// names, addresses written in English or pinyin, and addresses with no street-level part.

import type {Candidate} from './deid-names.js';
import {allMatches} from './regex-util.js';

const PROVINCES = '北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门';
const CITIES =
  '石家庄|唐山|秦皇岛|邯郸|邢台|保定|张家口|承德|沧州|廊坊|衡水|太原|大同|长治|晋城|临汾|运城|呼和浩特|包头|赤峰|鄂尔多斯|沈阳|大连|鞍山|抚顺|本溪|丹东|锦州|营口|长春|四平|通化|哈尔滨|齐齐哈尔|大庆|佳木斯|牡丹江|南京|无锡|徐州|常州|苏州|南通|连云港|淮安|盐城|扬州|镇江|泰州|宿迁|杭州|宁波|温州|嘉兴|湖州|绍兴|金华|衢州|舟山|台州|丽水|合肥|芜湖|蚌埠|淮南|马鞍山|淮北|安庆|滁州|阜阳|宿州|六安|亳州|福州|厦门|莆田|泉州|漳州|龙岩|南昌|景德镇|九江|赣州|上饶|济南|青岛|淄博|枣庄|东营|烟台|潍坊|济宁|泰安|威海|日照|临沂|德州|聊城|滨州|菏泽|郑州|开封|洛阳|平顶山|安阳|新乡|焦作|许昌|漯河|南阳|商丘|信阳|周口|驻马店|武汉|黄石|十堰|宜昌|襄阳|荆门|孝感|荆州|黄冈|长沙|株洲|湘潭|衡阳|邵阳|岳阳|常德|益阳|郴州|怀化|广州|韶关|深圳|珠海|汕头|佛山|江门|湛江|茂名|肇庆|惠州|梅州|东莞|潮州|揭阳|南宁|柳州|桂林|梧州|北海|玉林|海口|三亚|成都|自贡|攀枝花|泸州|德阳|绵阳|广元|遂宁|内江|乐山|南充|宜宾|达州|贵阳|遵义|昆明|曲靖|玉溪|大理|西安|宝鸡|咸阳|渭南|延安|汉中|榆林|兰州|天水|西宁|银川|乌鲁木齐|克拉玛依|拉萨';

// a place-name character: Han, but not a function word that separates an address from the words
// around it (我家住在|北京市…, 去|超市)
const STOP = '我你他她它们的在是住到去从于了就也位址为叫这请问说吗呢吧啊与及或被把给向对离近附边旁每个有没要想能会可以经曾刚才过所';
const N = `(?:(?![${STOP}])\\p{Script=Han})`;
const NUM = '[0-9０-９一二三四五六七八九十百零〇两]';

const ADDRESS = new RegExp(
  [
    `(?<P>(?:${PROVINCES})(?:省|市|自治区|特别行政区)?)?`,
    `(?<C>(?<Cg>${CITIES})市?|${N}{2,4}?(?:市|州|盟))?`,
    `(?<D>${N}{1,4}?(?:区|县|旗))?`,
    `(?<T>${N}{1,5}?(?:街道|镇|乡))?`,
    `(?<V>${N}{1,4}?村)?`,
    // names are short (2–4 characters): a longer run means the start is not at the name
    // at least two characters: 走路, 尿路, 思路, 一路 are not roads
    // or a bare 大街/大道 right after a place that named it (中关村|大街: 村 took the place's name)
    `(?<R>(?:(?:${N}|[0-9]){2,5}?(?:大街|大道|街|路|巷|弄|胡同)|大街|大道)(?:[东西南北中]?段)?)?`,
    `(?<No>${NUM}+(?:-${NUM}+)?号(?!楼)院?)?`,
    `(?<Cm>(?:${N}|[0-9]){1,8}?(?:小区|花园|公寓|大厦|家园|新村|社区|苑))?`,
    // 软件园, 万达广场: part of an address once one is established, never enough to make one
    `(?<Cx>(?:${N}|[0-9]){1,8}?(?:园|城|广场|中心))?`,
    `(?<B>(?:${NUM}+|[A-Za-z])(?:栋|幢|号楼|座))?`,
    `(?<U>${NUM}+单元)?`,
    `(?<Rm>[0-9]{2,5}(?:室|房)|(?<=单元)[0-9]{2,5})?`,
  ].join(''),
  'uy',
);

// where to look: a province/city name, or the last character of a component suffix. One
// character class (not a 200-name alternation, which cost ~8% of an import) plus a lookup.
const PLACES_BY_FIRST = new Map<string, string[]>();
for (const place of `${PROVINCES}|${CITIES}`.split('|')) PLACES_BY_FIRST.set(place[0]!, [...(PLACES_BY_FIRST.get(place[0]!) ?? []), place]);
const SUFFIX_LAST = '路街巷弄镇乡村苑栋幢室区县道同园寓厦元楼座';
const TRIGGER = new RegExp(`[${SUFFIX_LAST}${[...PLACES_BY_FIRST.keys()].join('')}]`, 'gu');
const isTrigger = (text: string, i: number) =>
  SUFFIX_LAST.includes(text[i]!) || (PLACES_BY_FIRST.get(text[i]!)?.some((p) => text.startsWith(p, i)) ?? false);
const CUE_BEFORE = /(?:住址|地址|家住|住在|现住|居住在|居住于|住于|户籍地?|籍贯|家在|搬到|寄到)[：:\s]*(?:是|为|在)?[：:\s]*$/u;
const IS_N = new RegExp(`^${N}$`, 'u');
// 北京协和医院（北京市东城区帅府园1号）: an institution's public address, not a person's
const INSTITUTION_BEFORE = /(?:医院|卫生院|诊所|中心|研究所|药房|药店|大学|学院|科|部)\s*(?:[（(]|(?:的)?地址[是为]?[：:]?|位于|坐落于|在)\s*$/u;

function accepted(g: Record<string, string | undefined>, cued: boolean): boolean {
  const R = !!g.R, No = !!g.No, Cm = !!g.Cm, B = !!g.B, U = !!g.U, Rm = !!g.Rm, T = !!g.T, V = !!g.V, D = !!g.D;
  if ((R && No) || (Cm && (B || U || Rm)) || (B && U) || (U && Rm) || (R && B)) return true;
  const streetLevel = T || V || R || Cm || B || U;
  if ((g.P || g.Cg || cued) && streetLevel) return true;
  return D && (T || R || Cm || V);
}

export function findAddresses(text: string): Candidate[] {
  const found: Candidate[] = [];
  let covered = 0;
  for (const m of allMatches(TRIGGER, text)) {
    const t = m.index;
    if (t < covered || !isTrigger(text, t)) continue;
    // try starts from the left, the first word boundary up to 14 characters back
    for (let s = Math.max(covered, t - 14); s <= t; s++) {
      if (s > 0 && IS_N.test(text[s - 1]!) && s > covered) continue;
      ADDRESS.lastIndex = s;
      const hit = ADDRESS.exec(text);
      if (!hit || hit[0].length === 0 || s + hit[0].length <= t) continue;
      const before = text.slice(Math.max(0, s - 16), s);
      const cued = CUE_BEFORE.test(before.slice(-12));
      if (!accepted(hit.groups ?? {}, cued)) continue;
      if (!cued && INSTITUTION_BEFORE.test(before)) {
        covered = s + hit[0].length;
        break;
      }
      found.push({start: s, end: s + hit[0].length});
      covered = s + hit[0].length;
      break;
    }
  }
  return found;
}
