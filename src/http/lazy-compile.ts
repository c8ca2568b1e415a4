// Route schemas compiled on a route's first request instead of at start-up. Compiling every
// validator (Ajv) and response serializer (fast-json-stringify) of some 80 routes took about 0.7 s
// of the service's start; a route's first request now pays its own few milliseconds. A schema
// that does not compile still fails loudly, on first use: every route is exercised by the tests.

type Validate = ((data: unknown) => unknown) & { errors?: unknown };

/**
 * A validator that compiles on its first call; Fastify reads `.errors` after a failed call (and
 * nothing else of Ajv's function, whose type the cast keeps).
 */
export function lazyValidator<V extends Validate>(compile: () => V): V {
  let compiled: V | undefined;
  const validate: Validate = (data) => {
    compiled ??= compile();
    const result = compiled(data);
    validate.errors = compiled.errors;
    return result;
  };
  return validate as V;
}

/** A serializer that compiles on its first call. */
export function lazySerializer<S extends (data: never) => string>(compile: () => S): S {
  let compiled: S | undefined;
  return ((data: never) => (compiled ??= compile())(data)) as S;
}
