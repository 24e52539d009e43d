// Person-name detection for de-identification. A bare Chinese name has no shape of its own, and
// medical text is full of strings that begin with a surname character (王不留行, 白术, 胡萝卜,
// 高血压, 黄芪, 常规, 方案 …), so a name is only taken where the context says "a name is here":
//
//   1. title:   surname + 0–2 given-name chars + 医生/大夫/主任/教授/护士/先生/女士/老师/阿姨…
//               (王医生, 张伟大夫) — only at a word start (see `startsWord`), so 谢谢医生, 偏高医生
//               and 处方医生 are not names
//   2. 某:       surname + 某/某某 (王某, 李某某), not 某些/某种/某天…
//   3. strong:  我叫 / 名叫 / 姓名： / 名字是 / 儿子叫 … + surname + 1–2 chars
//   4. weak:    患者 / 病人 / 患儿 / 家属 / 我是 / 本人 + surname + 1–2 common given-name characters;
//               a relation word after 我/我的 (我妈妈 / 我爸爸 / 我母亲 / 我奶奶 / 我哥哥 …) likewise
//               (我妈妈王秀英最近…); not where a stop word follows the cue (我妈妈最近, 我妈妈高兴)
//   4b. 我是 / 本人: surname + ANY 1–2 characters when a self-introduction ends there — a
//               punctuation mark, space, the end, 男/女 or an age (我是李四，男，45岁 / 我是李四。) —
//               unless they end like a role or origin (我是江西人, 我是党员, 我是司机) or are a stop word
//   5. 我姓X / 免贵姓X: the surname alone
//
// Given names are restricted to a list of common given-name characters from which characters
// that often follow a surname in clinical text (血, 压, 细, 术, 明显, 常规 …) are left out: a name
// like 王明 after 患者 is therefore missed (recall) rather than 患者王明显好转 mangled (precision).
// Not covered: names without any cue (a bare 张伟 in running text), names written in pinyin or
// Latin letters, nicknames, and the 3rd+ person in a list (患者张三、李四 finds only 张三).

import {allMatches} from './regex-util.js';

export interface Candidate {
  start: number;
  end: number;
}

const SURNAME_SINGLE =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝向';
const SURNAME_COMPOUND = ['欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙', '宇文', '司徒', '夏侯', '令狐', '端木', '南宫', '独孤', '轩辕', '呼延', '申屠', '西门'];
/** surnames that are also everyday prepositions/verbs right before 医生 or after 患者 (向医生咨询, 患者于晨起时): only strong cues take them */
const FUNCTION_SURNAMES = new Set('于向应时和从将把给让被对与及等'.split(''));

// common given-name characters, minus those that double as clinical words after a surname
const GIVEN = new Set(
  ('伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞桂英华玉萍鹏辉建文志国海林斌宇浩凯婷雪琳晶俊帆晨欣怡佳涵轩梓诺萱思博鑫峰亮健飞龙云春燕凤琴慧莉颖倩玲琪晓宁乐阳嘉瑞泽睿昊然航铭皓宸彤瑶璐蕾薇丹岩波宏毅荣珍莹婧婕露洁淑惠娇妍媛嫣馨悦琦瑾璇瑜琼珊婉娅妮菲蓉芬芝芸茜莎菁蓓萌瑛雯霖雅冰姗爽晴岚钰楠柏栋梁森松杨彬诚信义仁德才振兴昌盛旺福禄寿喜庆胜贵富祥耀腾跃翔鸿雁鹰峰锋锐锦泉源潇淼豪彦贤善毅坚威虎豹麟旋胤煜炜烨焱灿熙曦昕晖昭晟景暖暄晗旭昱晔兰竹翠碧彩艺诗书画棋珠珏璟玮琛祺祯禧希愿梦念秋冬夏春钢光军兵伦辰逸雨').split(''),
);

const TITLES = ['主任医师', '主治医师', '副主任', '护士长', '医生', '医师', '大夫', '主任', '教授', '护士', '先生', '女士', '小姐', '老师', '阿姨', '叔叔', '大爷', '大妈', '奶奶', '爷爷', '院长'];

/** words that begin with a surname character and are not names (checked at the candidate start) */
const NOT_NAMES = [
  '王不留行', '白术', '白芍', '白芷', '白带', '白细胞', '白蛋白', '白内障', '白癜风', '白天', '胡萝卜', '胡椒', '高血压', '高血糖', '高血脂', '高烧', '高热',
  '高中', '高龄', '高危', '高尿酸', '高脂', '白血病', '白斑', '黄褐斑', '石淋', '黄芪', '黄连', '黄芩', '黄疸', '黄体', '金银花', '何首乌', '马齿苋', '杜仲', '连翘', '柴胡', '石膏', '石斛', '牛黄', '朱砂', '秦艽',
  '丁香', '甘草', '党参', '田七', '车前', '乌梅', '木香', '常规', '常见', '方案', '方法', '方面', '方便', '安全', '安眠', '安胎', '康复', '毛发', '龙骨',
  '钟乳', '沙参', '麦冬', '桂枝', '桑叶', '陈皮', '苏叶', '薛氏', '雷公藤', '吴茱萸', '夏枯草', '艾叶', '蒲公英', '路径', '管理', '全身', '关节', '明显',
];

// a name starts a word: text start, non-Han, or after one of these function characters
const NAME_MAY_FOLLOW = new Set('的是找问请叫跟给让被位个名见和与及对向听到去帮诉告么吗呢啊吧了过在从由经将把等称小老系约挂询教'.split(''));
const HAN = /\p{Script=Han}/u;

function startsWord(text: string, k: number): boolean {
  if (k === 0) return true;
  const prev = text[k - 1]!;
  if (!HAN.test(prev)) return true;
  const two = text.slice(Math.max(0, k - 2), k);
  // 谢谢王医生 / 您好李医生; but 谢谢医生 is thanks, not Dr Xie (the 谢 before 谢 is not a word start)
  if (two === '谢谢' || two === '感谢' || two === '多谢' || two === '您好' || two === '你好') return true;
  if (prev === '谢') return false;
  return NAME_MAY_FOLLOW.has(prev);
}

function surnameAt(text: string, k: number, allowFunctionWords: boolean): number {
  for (const s of SURNAME_COMPOUND) if (text.startsWith(s, k)) return s.length;
  const c = text[k];
  if (c === undefined || !SURNAME_SINGLE.includes(c)) return 0;
  if (!allowFunctionWords && FUNCTION_SURNAMES.has(c)) return 0;
  return 1;
}

const isNotName = (text: string, k: number) => NOT_NAMES.some((w) => text.startsWith(w, k));
const isGiven = (c: string | undefined) => c !== undefined && GIVEN.has(c);
// after a name: punctuation, space, digits, end, or a word that typically follows one
const AFTER_NAME = new Set('今现男女是的在因从家住来也和与年岁患说已于，。、；：！？'.split(''));
const endsName = (text: string, i: number) => i >= text.length || !HAN.test(text[i]!) || AFTER_NAME.has(text[i]!);
const ANON = /^(?:某某|某|[XＸ×*＊]{1,2})/;

/** given name after a surname at i: the anonymised forms, then whitelisted characters (longest first) */
function givenLength(text: string, i: number, needEnd: boolean): number {
  const anon = ANON.exec(text.slice(i, i + 2));
  if (anon) return anon[0].length;
  for (const n of [2, 1]) {
    let ok = true;
    for (let j = 0; j < n; j++) if (!isGiven(text[i + j])) ok = false;
    if (ok && (!needEnd || endsName(text, i + n))) return n;
  }
  return 0;
}

/** after an explicit cue (我叫, 姓名：) any 1–2 Han characters are the given name if a name boundary follows */
function givenAfterStrongCue(text: string, i: number): number {
  const anon = ANON.exec(text.slice(i, i + 2));
  if (anon) return anon[0].length;
  const nameChar = (c: string | undefined) => c !== undefined && HAN.test(c) && !AFTER_NAME.has(c);
  for (const n of [2, 1]) if (nameChar(text[i]) && (n === 1 || nameChar(text[i + 1])) && endsName(text, i + n)) return n;
  return givenLength(text, i, false);
}

/** 我是李四，… : any 1–2 Han characters after the surname where a self-introduction ends */
function selfIntroduced(text: string, i: number): number {
  const nameChar = (c: string | undefined) => c !== undefined && HAN.test(c) && !AFTER_NAME.has(c);
  for (const n of [2, 1]) {
    if (!nameChar(text[i]) || (n === 2 && !nameChar(text[i + 1]))) continue;
    if (NOT_NAME_LAST.has(text[i + n - 1]!) || !SELF_INTRO_END.test(text.slice(i + n, i + n + 6))) continue;
    return n;
  }
  return 0;
}

// not 叫做/名叫: 一种叫做宫外孕的病 names a thing, not a person
const STRONG_CUE = /(?:我叫|名字叫|名字是|姓名[是为]?|联系人|(?:儿子|女儿|孩子|宝宝|老公|丈夫|爱人|妻子|老婆|爸爸|妈妈|父亲|母亲|哥哥|姐姐|弟弟|妹妹|他|她)叫)[：:\s]*/gu;
const WEAK_CUE =
  /(?:患者|病人|病患|患儿|家属|病友|我是|本人是?|(?:我的?)?(?:老公|丈夫|爱人|妻子|老婆|儿子|女儿|父亲|母亲)|我的?(?:妈妈|爸爸|老妈|老爸|奶奶|爷爷|姥姥|姥爷|外婆|外公|姐姐|哥哥|弟弟|妹妹|婆婆|公公|岳母|岳父|孩子|闺女|媳妇|老伴|女朋友|男朋友|对象|朋友|同事))[：:，,\s]*/gu;
/** not a name after a cue (我妈妈高兴, 我是党员, 我是江西的): the ones that matter begin with a
 * surname character; 最近, 今天, 患者, 第一次 … begin with none and are listed to say so */
const CUE_STOP_WORDS = [
  '最近', '今天', '今年', '有', '得了', '患者', '病人', '医生', '第一次', '孕妇', '高兴', '安静', '宁愿', '宁可', '常常', '经常', '明天', '明年', '严重',
  '单身', '党员', '白领', '农民', '司机', '文员', '全职', '江西', '江苏', '安徽', '吉林', '宁夏', '甘肃', '高一', '高二', '高三', '高中', '初中', '独生', '阳虚', '胡思', '胡乱', '左边', '左侧',
];
const isStopWord = (text: string, k: number) => CUE_STOP_WORDS.some((w) => text.startsWith(w, k));
// the end of a self-introduction: punctuation, space, the end, a sex, an age
const SELF_INTRO_END = /^(?:$|[，,、。．.！!？?；;：:\s~～（(]|[男女](?:性|[，,、\s0-9]|$)|[0-9]{1,3}岁)/u;
// 我是江西人 / 党员 / 高中生 / 司机 / 孩子妈妈 …: a role or an origin, not a name
// 我是毛囊炎 / 阳虚 / 左边疼 / 包工头: a complaint or a body part
const NOT_NAME_LAST = new Set('人员者生族民机领工士师长户友妈爸姐哥弟妹儿女子孩娃胎州省市县区镇村乡的了着过吗呢吧啊呀哦嘛炎病症痛疼癌瘤虚热寒湿型血头脚手腿腰肚胃肝肾肺心脑眼耳鼻牙嘴疮痘斑痣皮肤'.split(''));
// case-record heading: 张伟，男，45岁 / 李某 女 — a sex right after is a cue by itself
const SEX_AFTER = /^[，,、\s]*[男女]性?(?:[，,、\s]|[0-9])/u;
const SEPARATOR = new Set(['，', ',', '、', ' ', '\t', '\n', '\u3000']);
const PATIENT_WORDS = new Set(['患者', '病人', '患儿', '家属', '病友']);
const afterPatientWord = (text: string, k: number) => PATIENT_WORDS.has(text.slice(Math.max(0, k - 2), k));
const SURNAME_CUE = /(?:我姓|免贵姓|本人姓)/gu;
const MOU = /某某|某/gu;
const SEX = /[男女]/gu;
const NOT_AFTER_MOU = new Set('些种个天日位处人项段次时样物部类年月地点一方面'.split(''));

export function findNames(text: string): Candidate[] {
  const found: Candidate[] = [];
  const add = (start: number, end: number) => {
    if (end > start && !isNotName(text, start)) found.push({start, end});
  };

  for (const m of allMatches(STRONG_CUE, text)) {
    const k = m.index + m[0].length;
    const s = surnameAt(text, k, true);
    if (s) add(k, k + s + givenAfterStrongCue(text, k + s));
  }
  for (const m of allMatches(WEAK_CUE, text)) {
    const k = m.index + m[0].length;
    const s = surnameAt(text, k, false);
    if (!s || isStopWord(text, k)) continue;
    const weakest = m[0].startsWith('我是') || m[0].startsWith('本人');
    const g = givenLength(text, k + s, weakest) || (weakest ? selfIntroduced(text, k + s) : 0);
    if (g) add(k, k + s + g);
  }
  for (const m of allMatches(SURNAME_CUE, text)) {
    const k = m.index + m[0].length;
    const s = surnameAt(text, k, true);
    if (s && (endsName(text, k + s) || TITLES.some((t) => text.startsWith(t, k + s)))) add(k, k + s);
  }
  // 张伟，男，… : surname + 1–2 characters at a word start, then the sex
  for (const m of allMatches(SEX, text)) {
    let end = m.index;
    while (end > 0 && SEPARATOR.has(text[end - 1]!)) end--;
    if (!SEX_AFTER.test(text.slice(end, end + 6))) continue;
    for (const n of [3, 2]) {
      const k = end - n;
      if (k < 0) continue;
      const s = surnameAt(text, k, false);
      const given = text.slice(k + s, end);
      if (!s || given.length < 1 || given.length > 2) continue;
      // after 患者 any characters may be a name; elsewhere (白血病，男 at a line start) only common given-name ones
      const patient = afterPatientWord(text, k);
      const plausible = patient ? [...given].every((c) => HAN.test(c) && !AFTER_NAME.has(c)) : [...given].every(isGiven);
      if (plausible && (patient || startsWord(text, k))) {
        add(k, end);
        break;
      }
    }
  }
  // X某 / X某某
  for (const m of allMatches(MOU, text)) {
    const after = text[m.index + m[0].length];
    if (after !== undefined && NOT_AFTER_MOU.has(after)) continue;
    for (const back of [2, 1]) {
      const k = m.index - back;
      if (k < 0 || surnameAt(text, k, true) !== back) continue;
      if (startsWord(text, k) || afterPatientWord(text, k)) add(k, m.index + m[0].length);
      break;
    }
  }
  // surname (+ given) + title
  for (let i = nextTitle(text, 0); i >= 0; i = nextTitle(text, i + 1)) {
    for (const back of [4, 3, 2, 1]) {
      const k = i - back;
      if (k < 0) continue;
      const s = surnameAt(text, k, false);
      if (!s || s > back) continue;
      let given = true;
      for (let j = k + s; j < i; j++) if (!isGiven(text[j])) given = false;
      if (given && back - s <= 2 && startsWord(text, k)) {
        add(k, i);
        break;
      }
    }
  }
  return found;
}

const TITLE_RE = new RegExp(TITLES.join('|'), 'gu');
function nextTitle(text: string, from: number): number {
  TITLE_RE.lastIndex = Math.max(0, from);
  const m = TITLE_RE.exec(text);
  return m ? m.index : -1;
}
