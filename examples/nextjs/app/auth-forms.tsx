'use client';
/*
 * app/auth-forms.tsx - the sign-up, log-in, password-reset and sign-in-link forms (client components for
 * the pending state and the error the server action returns). After a
 * failed submission the fields keep what was typed, except the password.
 */
import { useActionState } from 'react';
import {
  login, magicLogin, requestMagicLink, requestPasswordReset, resetPassword, signup, type FormState,
} from './actions';

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

/** Ask for a mail (reset link or sign-in link) for an address. */
export function EmailLinkForm({ kind }: { kind: 'reset' | 'magic' }) {
  const [state, action, pending] = useActionState(
    kind === 'reset' ? requestPasswordReset : requestMagicLink, initial);
  const v = state.values ?? {};
  return (
    <form className="stack" action={action}>
      <label>E-mail<input name="email" type="email" required autoComplete="email" defaultValue={v.email} /></label>
      {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
      {state.ok && <p className="ok" role="status" data-testid="form-ok">{state.ok}</p>}
      <button type="submit" disabled={pending}>
        {kind === 'reset' ? 'Send me a reset link' : 'E-mail me a sign-in link'}
      </button>
    </form>
  );
}

/** The reset link's page: choose a new password. */
export function NewPasswordForm({ token }: { token: string }) {
  const [state, action, pending] = useActionState(resetPassword, initial);
  return (
    <form className="stack" action={action}>
      <input type="hidden" name="token" value={token} />
      <label>New password<input name="password" type="password" required minLength={8} autoComplete="new-password" /></label>
      {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
      <button type="submit" disabled={pending}>Set the new password</button>
    </form>
  );
}

/** The sign-in link's page: one button uses the token. */
export function MagicLoginForm({ token }: { token: string }) {
  const [state, action, pending] = useActionState(magicLogin, initial);
  return (
    <form className="stack" action={action}>
      <input type="hidden" name="token" value={token} />
      {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
      <button type="submit" disabled={pending}>Sign in</button>
    </form>
  );
}
