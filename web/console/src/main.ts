import { createApp } from 'vue';
import App from './App.vue';
import './style.css';
import './tiles';

createApp(App).mount('#app');
