import t from 'tap';
import { canonicalize, CanonicalJsonError } from '../../src/custody/canonical-json.ts';

t.test('numbers use the ECMAScript serialisation', async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [-1.5, '-1.5'],
    [4.5, '4.5'],
    [0.002, '0.002'],
    [0.000001, '0.000001'],
    [0.0000001, '1e-7'],
    [1e-27, '1e-27'],
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [1e30, '1e+30'],
    [333333333.33333329, '333333333.3333333'],
    [295147905179352830000, '295147905179352830000'],
    [9007199254740992, '9007199254740992'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [Number.MIN_VALUE, '5e-324'],
    [-1e-7, '-1e-7'],
  ];
  for (const [n, s] of cases) t.equal(canonicalize(n), s, s);
  for (const bad of [NaN, Infinity, -Infinity]) {
    t.throws(() => canonicalize(bad), CanonicalJsonError);
    t.throws(() => canonicalize({ a: [bad] }), CanonicalJsonError);
  }
});

t.test('strings escape only what RFC 8785 escapes', async (t) => {
  t.equal(canonicalize('\u0000\u0001\u001f\b\t\n\f\r"\\/'), '"\\u0000\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\/"');
  t.equal(canonicalize('\u007f\u0080é€\u2028\u2029😀'), '"\u007f\u0080é€\u2028\u2029😀"');
  t.equal(Buffer.from(canonicalize('€😀')).toString('hex'), '22e282acf09f988022');
  t.throws(() => canonicalize('\ud800'), CanonicalJsonError, 'lone high surrogate');
  t.throws(() => canonicalize('a\udc00b'), CanonicalJsonError, 'lone low surrogate');
  t.throws(() => canonicalize({ '\udc00': 1 }), CanonicalJsonError, 'lone surrogate in a key');
});

t.test('keys sort by UTF-16 code units', async (t) => {
  const value = { '\u20ac': 'Euro', '\r': 'CR', '\ufb33': 'Hebrew', '1': 'One', '\ud83d\ude00': 'Smiley', '\u0080': 'Ctrl', 'ö': 'Latin' };
  // 😀 (U+1F600, units D83D DE00) sorts before U+FB33, unlike in code point order.
  t.equal(
    canonicalize(value),
    '{"\\r":"CR","1":"One","\u0080":"Ctrl","ö":"Latin","€":"Euro","😀":"Smiley","\ufb33":"Hebrew"}',
  );
  t.equal(canonicalize({ b: 1, a: 2, A: 3, aa: 4, '': 5 }), '{"":5,"A":3,"a":2,"aa":4,"b":1}');
});

t.test('structures', async (t) => {
  t.equal(canonicalize(null), 'null');
  t.equal(canonicalize(true), 'true');
  t.equal(canonicalize(false), 'false');
  t.equal(canonicalize([]), '[]');
  t.equal(canonicalize({}), '{}');
  t.equal(
    canonicalize({ z: [[], [[1, 'x']], {}, null], a: { d: { c: [true, -0] }, b: 'y' } }),
    '{"a":{"b":"y","d":{"c":[true,0]}},"z":[[],[[1,"x"]],{},null]}',
  );
  t.equal(canonicalize({ a: undefined, b: 1 }), '{"b":1}', 'undefined properties are omitted');
  const nullProto = Object.assign(Object.create(null) as object, { y: 1, x: 2 });
  t.equal(canonicalize(nullProto), '{"x":2,"y":1}');
  const shared = { s: 1 };
  t.equal(canonicalize([shared, shared]), '[{"s":1},{"s":1}]', 'shared, non-cyclic references are fine');
  t.equal(canonicalize(' a\u00a0'), JSON.stringify(' a\u00a0'));
});

t.test('what is not JSON data is rejected', async (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cyclicArray: unknown[] = [];
  cyclicArray.push(cyclicArray);
  const bad: [unknown, string][] = [
    [undefined, 'top-level undefined'],
    [[1, undefined], 'undefined array element'],
    // eslint-disable-next-line no-sparse-arrays
    [[1, , 2], 'sparse array'],
    [1n, 'bigint'],
    [() => 1, 'function'],
    [{ f: () => 1 }, 'function property'],
    [Symbol('s'), 'symbol'],
    [new Date(0), 'Date'],
    [Buffer.from('x'), 'Buffer'],
    [new Map(), 'Map'],
    [cyclic, 'cyclic object'],
    [cyclicArray, 'cyclic array'],
  ];
  for (const [value, what] of bad) t.throws(() => canonicalize(value), CanonicalJsonError, what);
});
