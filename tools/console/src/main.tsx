import '@patternfly/react-core/dist/styles/base.css';
import './app.css';
import { createRoot } from 'react-dom/client';
import { App } from './App';

const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
