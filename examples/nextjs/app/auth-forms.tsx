'use client';
/*
 * app/auth-forms.tsx - the sign-up and log-in forms (client components for
 * the pending state and the error the server action returns). After a
 * failed submission the fields keep what was typed, except the password.
 */
import { useActionState } from 'react';
import { login, signup, type FormState } from './actions';

const initial: FormState = {};

export function SignupForm({ next }: { next?: string }) {
  const [state, action, pending] = useActionState(signup, initial);
  const v = state.values ?? {};
  return (
    <form className="stack" action={action}>
      <input type="hidden" name="next" value={next ?? '/'} />
      <label>Name<input name="name" required maxLength={100} autoComplete="name" defaultValue={v.name} /></label>
      <label>E-mail<input name="email" type="email" required autoComplete="email" defaultValue={v.email} /></label>
      <label>Password<input name="password" type="password" required minLength={8} autoComplete="new-password" /></label>
      {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
      <button type="submit" disabled={pending}>Sign up</button>
    </form>
  );
}

export function LoginForm({ next }: { next?: string }) {
  const [state, action, pending] = useActionState(login, initial);
  const v = state.values ?? {};
  return (
    <form className="stack" action={action}>
      <input type="hidden" name="next" value={next ?? '/'} />
      <label>E-mail<input name="email" type="email" required autoComplete="email" defaultValue={v.email} /></label>
      <label>Password<input name="password" type="password" required autoComplete="current-password" /></label>
      {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
      <button type="submit" disabled={pending}>Log in</button>
    </form>
  );
}
