// A stand-in for https://telegram.org/js/telegram-web-app.js, served in its place by the browser
// tests (tests/browser/conftest.py), which reach no network.
//
// The page sees what the real script gives it at Bot API 8.0 (core.telegram.org/bots/webapps):
// Telegram.WebApp with the launch parameters read from the URL's hash exactly as the real script
// reads them (tgWebAppData decoded once into initData, then parsed into initDataUnsafe; the theme
// from tgWebAppThemeParams; both kept in sessionStorage so that a page the app navigates to
// without the hash still has them), the same CSS variables on <html>, the same checks on
// arguments (a bad MainButton text or popup throws as it would in Telegram), and the same events.
//
// What Telegram itself draws and does (the MainButton and BackButton, popups, the theme) is played
// by window.__fakeTelegram, which the tests drive: it records every Telegram.WebApp method the
// page calls, presses the buttons, answers the popup and changes the theme.
(function () {
  'use strict';

  var STORE = '__telegram__';
  var VERSION_FALLBACK = '6.0';

  // ---- Launch parameters, as the real script parses them ----------------------------------

  function urlSafeDecode(urlencoded) {
    try {
      return decodeURIComponent(urlencoded.replace(/\+/g, '%20'));
    } catch (e) {
      return urlencoded;
    }
  }

  function parseQueryString(query) {
    var params = {};
    if (!query.length) {
      return params;
    }
    query.split('&').forEach(function (part) {
      var pair = part.split('=');
      params[urlSafeDecode(pair[0])] = pair[1] == null ? null : urlSafeDecode(pair[1]);
    });
    return params;
  }

  function parseHash(hash) {
    hash = hash.replace(/^#/, '');
    if (!hash.length || (hash.indexOf('=') < 0 && hash.indexOf('?') < 0)) {
      return {};
    }
    var question = hash.indexOf('?');
    return parseQueryString(question >= 0 ? hash.substr(question + 1) : hash);
  }

  function stored(key) {
    try {
      return JSON.parse(window.sessionStorage.getItem(STORE + key));
    } catch (e) {
      return null;
    }
  }

  function store(key, value) {
    try {
      window.sessionStorage.setItem(STORE + key, JSON.stringify(value));
    } catch (e) {}
  }

  var initParams = parseHash(location.hash.toString());
  var remembered = stored('initParams') || {};
  Object.keys(remembered).forEach(function (key) {
    if (typeof initParams[key] === 'undefined') {
      initParams[key] = remembered[key];
    }
  });
  store('initParams', initParams);

  var initData = '';
  var initDataUnsafe = {};
  if (initParams.tgWebAppData && initParams.tgWebAppData.length) {
    initData = initParams.tgWebAppData;
    initDataUnsafe = parseQueryString(initData);
    Object.keys(initDataUnsafe).forEach(function (key) {
      var value = initDataUnsafe[key];
      var first = value ? value.substr(0, 1) : '';
      var last = value ? value.substr(-1) : '';
      if ((first === '{' && last === '}') || (first === '[' && last === ']')) {
        try {
          initDataUnsafe[key] = JSON.parse(value);
        } catch (e) {}
      }
    });
  }
  var version = initParams.tgWebAppVersion || VERSION_FALLBACK;
  var platform = initParams.tgWebAppPlatform || 'unknown';

  // ---- What the tests read and drive: Telegram's side ---------------------------------------

  var calls = stored('calls') || [];

  function record(method, args) {
    calls.push({
      method: method,
      args: Array.prototype.map.call(args, function (arg) {
        return typeof arg === 'function' ? 'function' : arg;
      }),
      path: location.pathname,
    });
    store('calls', calls);
  }

  var handlers = {};

  function onEvent(type, callback) {
    handlers[type] = handlers[type] || [];
    if (handlers[type].indexOf(callback) < 0) {
      handlers[type].push(callback);
    }
  }

  function offEvent(type, callback) {
    var list = handlers[type] || [];
    var index = list.indexOf(callback);
    if (index >= 0) {
      list.splice(index, 1);
    }
  }

  // The real script swallows a handler's exception; here it is thrown again outside the handler,
  // so that the test sees it as a page error, and the other handlers still run.
  function emit(type, data) {
    (handlers[type] || []).slice().forEach(function (callback) {
      try {
        if (typeof data === 'undefined') {
          callback.call(WebApp);
        } else {
          callback.call(WebApp, data);
        }
      } catch (error) {
        setTimeout(function () {
          throw error;
        });
      }
    });
  }

  // ---- Colours and the theme -----------------------------------------------------------------

  function parseColorToHex(color) {
    color += '';
    var match;
    if ((match = /^\s*#([0-9a-f]{6})\s*$/i.exec(color))) {
      return '#' + match[1].toLowerCase();
    }
    if ((match = /^\s*#([0-9a-f])([0-9a-f])([0-9a-f])\s*$/i.exec(color))) {
      return ('#' + match[1] + match[1] + match[2] + match[2] + match[3] + match[3]).toLowerCase();
    }
    if ((match = /^\s*rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*(\d+\.{0,1}\d*))?\)\s*$/.exec(color))) {
      return '#' + [match[1], match[2], match[3]].map(function (part) {
        var hex = parseInt(part, 10).toString(16);
        return hex.length < 2 ? '0' + hex : hex;
      }).join('');
    }
    return false;
  }

  // Telegram's own rule: the scheme is dark when bg_color's perceived brightness is below 120.
  function isColorDark(hex) {
    var r = parseInt(hex.substr(1, 2), 16);
    var g = parseInt(hex.substr(3, 2), 16);
    var b = parseInt(hex.substr(5, 2), 16);
    return Math.sqrt(0.299 * r * r + 0.587 * g * g + 0.114 * b * b) < 120;
  }

  function setCssProperty(name, value) {
    document.documentElement.style.setProperty('--tg-' + name, value);
  }

  var themeParams = {};
  var colorScheme = 'light';

  function setThemeParams(params) {
    Object.keys(params).forEach(function (key) {
      var color = parseColorToHex(params[key]);
      if (!color) {
        return;
      }
      themeParams[key] = color;
      if (key === 'bg_color') {
        colorScheme = isColorDark(color) ? 'dark' : 'light';
        setCssProperty('color-scheme', colorScheme);
      }
      setCssProperty('theme-' + key.split('_').join('-'), color);
    });
    store('themeParams', themeParams);
  }

  if (initParams.tgWebAppThemeParams && initParams.tgWebAppThemeParams.length) {
    try {
      setThemeParams(JSON.parse(initParams.tgWebAppThemeParams) || {});
    } catch (e) {}
  }
  setThemeParams(stored('themeParams') || {});

  // ---- The viewport --------------------------------------------------------------------------

  // A Mini App opens at part of the screen's height until it asks to expand.
  var isExpanded = false;

  function setViewport() {
    var height = window.innerHeight + 'px';
    setCssProperty('viewport-height', height);
    setCssProperty('viewport-stable-height', height);
  }

  function expandViewport() {
    if (isExpanded) {
      return;
    }
    isExpanded = true;
    setViewport();
    emit('viewportChanged', {isStateStable: true});
  }

  // ---- Arguments checked as the real script checks them ---------------------------------------

  function trimmed(text) {
    return String(text).replace(/^\s+|\s+$/g, '');
  }

  function fail(error, message, value) {
    console.error('[Telegram.WebApp] ' + message, value);
    throw Error(error);
  }

  function versionAtLeast(wanted) {
    var have = version.split('.');
    var want = String(wanted).split('.');
    for (var i = 0; i < Math.max(have.length, want.length); i++) {
      var a = parseInt(have[i], 10) || 0;
      var b = parseInt(want[i], 10) || 0;
      if (a !== b) {
        return a > b;
      }
    }
    return true;
  }

  // ---- The buttons Telegram draws below and above the page ------------------------------------

  var BackButton = (function () {
    var isVisible = false;
    var button = {};
    Object.defineProperty(button, 'isVisible', {
      get: function () { return isVisible; },
      set: function (value) { isVisible = !!value; },
      enumerable: true,
    });
    button.onClick = function (callback) {
      record('BackButton.onClick', arguments);
      onEvent('backButtonClicked', callback);
      return button;
    };
    button.offClick = function (callback) {
      record('BackButton.offClick', arguments);
      offEvent('backButtonClicked', callback);
      return button;
    };
    button.show = function () {
      record('BackButton.show', arguments);
      isVisible = true;
      return button;
    };
    button.hide = function () {
      record('BackButton.hide', arguments);
      isVisible = false;
      return button;
    };
    return button;
  })();

  var MainButton = (function () {
    var state = {
      text: 'CONTINUE', color: false, textColor: false, isVisible: false, isActive: true,
      isProgressVisible: false, hasShineEffect: false,
    };
    var button = {};

    function color(value, what) {
      if (value === false || value === null) {
        return false;
      }
      return parseColorToHex(value) || fail('WebAppMainButtonParamInvalid',
        'Main button ' + what + ' format is invalid', value);
    }

    function setParams(params) {
      if (typeof params.text !== 'undefined') {
        var text = trimmed(params.text);
        if (!text.length) {
          fail('WebAppMainButtonParamInvalid', 'Main button text is required', params.text);
        }
        if (text.length > 64) {
          fail('WebAppMainButtonParamInvalid', 'Main button text is too long', text);
        }
        state.text = text;
      }
      if (typeof params.color !== 'undefined') {
        state.color = color(params.color, 'color');
      }
      if (typeof params.text_color !== 'undefined') {
        state.textColor = color(params.text_color, 'text color');
      }
      if (typeof params.is_visible !== 'undefined') {
        state.isVisible = !!params.is_visible;
      }
      if (typeof params.is_active !== 'undefined') {
        state.isActive = !!params.is_active;
      }
      if (typeof params.has_shine_effect !== 'undefined') {
        state.hasShineEffect = !!params.has_shine_effect;
      }
      return button;
    }

    function property(name, getter, param) {
      Object.defineProperty(button, name, {
        get: getter,
        set: param ? function (value) {
          var params = {};
          params[param] = value;
          setParams(params);
        } : undefined,
        enumerable: true,
      });
    }
    property('text', function () { return state.text; }, 'text');
    property('color', function () {
      return state.color || themeParams.button_color || '#2481cc';
    }, 'color');
    property('textColor', function () {
      return state.textColor || themeParams.button_text_color || '#ffffff';
    }, 'text_color');
    property('isVisible', function () { return state.isVisible; }, 'is_visible');
    property('isActive', function () { return state.isActive; }, 'is_active');
    property('isProgressVisible', function () { return state.isProgressVisible; });
    property('hasShineEffect', function () { return state.hasShineEffect; }, 'has_shine_effect');

    function method(name, body) {
      button[name] = function () {
        record('MainButton.' + name, arguments);
        var result = body.apply(button, arguments);
        return typeof result === 'undefined' ? button : result;
      };
    }
    method('setParams', setParams);
    method('setText', function (text) { setParams({text: text}); });
    method('show', function () { setParams({is_visible: true}); });
    method('hide', function () { setParams({is_visible: false}); });
    method('enable', function () { setParams({is_active: true}); });
    method('disable', function () { setParams({is_active: false}); });
    method('showProgress', function (leaveActive) {
      state.isActive = !!leaveActive;
      state.isProgressVisible = true;
    });
    method('hideProgress', function () {
      state.isActive = true;
      state.isProgressVisible = false;
    });
    method('onClick', function (callback) { onEvent('mainButtonClicked', callback); });
    method('offClick', function (callback) { offEvent('mainButtonClicked', callback); });

    // Telegram draws the button: a press reaches the page only while it is shown, and the real
    // script drops a press on an inactive button.
    button.__press = function () {
      if (!state.isVisible) {
        throw Error('the MainButton is hidden: nobody can press it');
      }
      if (state.isActive) {
        emit('mainButtonClicked');
      }
    };
    button.__state = function () {
      return {
        text: state.text, color: button.color, textColor: button.textColor,
        isVisible: state.isVisible, isActive: state.isActive,
        isProgressVisible: state.isProgressVisible,
      };
    };
    return button;
  })();

  var HapticFeedback = (function () {
    var IMPACT = ['light', 'medium', 'heavy', 'rigid', 'soft'];
    var NOTIFICATION = ['error', 'success', 'warning'];
    var haptic = {};
    haptic.impactOccurred = function (style) {
      record('HapticFeedback.impactOccurred', arguments);
      if (IMPACT.indexOf(style) < 0) {
        fail('WebAppHapticImpactStyleInvalid', 'Haptic impact style is invalid', style);
      }
      return haptic;
    };
    haptic.notificationOccurred = function (type) {
      record('HapticFeedback.notificationOccurred', arguments);
      if (NOTIFICATION.indexOf(type) < 0) {
        fail('WebAppHapticNotificationTypeInvalid', 'Haptic notification type is invalid', type);
      }
      return haptic;
    };
    haptic.selectionChanged = function () {
      record('HapticFeedback.selectionChanged', arguments);
      return haptic;
    };
    return haptic;
  })();

  // ---- Popups, drawn by Telegram --------------------------------------------------------------

  var popup = null;  // {params, callback} while one is open

  function popupParams(params) {
    var result = {};
    if (typeof params.title !== 'undefined') {
      var title = trimmed(params.title);
      if (title.length > 64) {
        fail('WebAppPopupParamInvalid', 'Popup title is too long', title);
      }
      if (title.length) {
        result.title = title;
      }
    }
    var message = typeof params.message === 'undefined' ? '' : trimmed(params.message);
    if (!message.length || message.length > 256) {
      fail('WebAppPopupParamInvalid', 'Popup message is required, 256 characters at most',
        params.message);
    }
    result.message = message;
    var buttons = typeof params.buttons === 'undefined' ? [{id: '', type: 'close'}] : params.buttons;
    if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 3) {
      fail('WebAppPopupParamInvalid', 'Popup buttons should be an array of 1 to 3', buttons);
    }
    result.buttons = buttons.map(function (button) {
      var type = typeof button.type === 'undefined' ? 'default' : button.type;
      var shown = {id: typeof button.id === 'undefined' ? '' : String(button.id), type: type};
      if (shown.id.length > 64) {
        fail('WebAppPopupParamInvalid', 'Popup button id is too long', shown.id);
      }
      if (type === 'default' || type === 'destructive') {
        shown.text = typeof button.text === 'undefined' ? '' : trimmed(button.text);
        if (!shown.text.length || shown.text.length > 64) {
          fail('WebAppPopupParamInvalid', 'Popup button text is required, 64 characters at most',
            button.text);
        }
      } else if (['ok', 'close', 'cancel'].indexOf(type) < 0) {
        fail('WebAppPopupParamInvalid', 'Popup button type is invalid', type);
      }
      return shown;
    });
    return result;
  }

  function openPopup(params, callback) {
    if (popup) {
      fail('WebAppPopupOpened', 'Popup is already opened');
    }
    popup = {params: popupParams(params), callback: callback};
  }

  // ---- Telegram.WebApp -------------------------------------------------------------------------

  var WebApp = {};
  var getters = {
    initData: function () { return initData; },
    initDataUnsafe: function () { return initDataUnsafe; },
    version: function () { return version; },
    platform: function () { return platform; },
    colorScheme: function () { return colorScheme; },
    themeParams: function () { return themeParams; },
    isExpanded: function () { return isExpanded; },
    viewportHeight: function () { return window.innerHeight; },
    viewportStableHeight: function () { return window.innerHeight; },
    isActive: function () { return true; },
    isFullscreen: function () { return false; },
    BackButton: function () { return BackButton; },
    MainButton: function () { return MainButton; },
    HapticFeedback: function () { return HapticFeedback; },
  };
  Object.keys(getters).forEach(function (name) {
    Object.defineProperty(WebApp, name, {get: getters[name], enumerable: true});
  });

  function method(name, body) {
    WebApp[name] = function () {
      record(name, arguments);
      return body ? body.apply(WebApp, arguments) : undefined;
    };
  }

  function tMeLink(url) {
    var link = document.createElement('a');
    link.href = url;
    if ((link.protocol !== 'http:' && link.protocol !== 'https:') || link.hostname !== 't.me') {
      fail('WebAppTgUrlInvalid', 'Url is not a t.me link', url);
    }
  }

  method('ready');
  method('expand', expandViewport);
  method('close');
  method('isVersionAtLeast', versionAtLeast);
  method('onEvent', onEvent);
  method('offEvent', offEvent);
  method('setHeaderColor');
  method('setBackgroundColor');
  method('setBottomBarColor');
  method('enableClosingConfirmation');
  method('disableClosingConfirmation');
  method('enableVerticalSwipes');
  method('disableVerticalSwipes');
  method('openLink', function (url) {
    if (!/^https?:\/\//.test(url)) {
      fail('WebAppTgUrlInvalid', 'Url protocol is not supported', url);
    }
  });
  method('openTelegramLink', tMeLink);
  method('sendData', function (data) {
    if (!data || !data.length || new Blob([data]).size > 4096) {
      fail('WebAppDataInvalid', 'Data is required, 4096 bytes at most', data);
    }
  });
  method('showPopup', openPopup);
  method('showAlert', function (message, callback) {
    openPopup({message: message}, callback ? function () { callback(); } : null);
  });
  method('showConfirm', function (message, callback) {
    openPopup({message: message, buttons: [{type: 'ok', id: 'ok'}, {type: 'cancel'}]},
      callback ? function (buttonId) { callback(buttonId === 'ok'); } : null);
  });

  window.Telegram = window.Telegram || {};
  window.Telegram.WebApp = WebApp;
  setViewport();

  window.__fakeTelegram = {
    calls: function () { return calls.slice(); },
    mainButton: function () { return MainButton.__state(); },
    pressMainButton: function () { MainButton.__press(); },
    pressBackButton: function () {
      if (!BackButton.isVisible) {
        throw Error('the BackButton is hidden: nobody can press it');
      }
      emit('backButtonClicked');
    },
    popup: function () { return popup && popup.params; },
    // The button pressed (its id), or null for a popup dismissed without one, as Telegram says.
    closePopup: function (buttonId) {
      if (!popup) {
        throw Error('no popup is open');
      }
      var closing = popup;
      popup = null;
      if (closing.callback) {
        closing.callback(buttonId);
      }
      emit('popupClosed', {button_id: buttonId});
    },
    changeTheme: function (params) {
      setThemeParams(params);
      emit('themeChanged');
    },
  };
})();
