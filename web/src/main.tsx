import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { prefetch } from './api.js';
import { App } from './App.js';
import './styles.css';

// The session check and the overview's data in parallel (the overview is the usual first page).
prefetch('/session', ...(['/', '/overview'].includes(location.pathname) ? ['/overview', '/score'] : []));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
