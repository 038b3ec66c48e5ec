import type { PageRoutes } from '../http/pages.js';
import { adminPages } from './console.js';
import { adminApi } from './api.js';

/** The admin console (/admin) and the admin API (/api/admin). */
export const ADMIN_AREAS: PageRoutes[] = [adminPages, adminApi];
