# A one-file Rails 6.1 app (Debian 12's ruby-rails 6.1.7.10, Rack 2.2.22, WEBrick 1.8.1, Ruby 3.1, no database):
# the scheme bugs behind a TLS-terminating front end that does not say "https" in a header Rack reads.
#
#   apt-get install -y --no-install-recommends ruby-rails        # also pulls ruby-rack 2.2 and ruby-webrick
#   PORT=3000 rackup -E production -s webrick -o 127.0.0.1 -p "$PORT" tests/apps/rails/config.ru
#
# Routes: GET /login (sets the cookie-store session `_offload_rails_session`), GET /account, GET /form (form with
# the authenticity token + csrf meta tags), POST /submit, GET /oauth/start (redirect to an OAuth provider with an
# absolute callback URL from url_for), GET /oauth/callback. FORCE_SSL=1 sets config.force_ssl (all routes).
#
# Rack 2.2 takes the scheme only from HTTPS=on, X-Forwarded-Ssl: on, X-Forwarded-Scheme or X-Forwarded-Proto
# (rack/request.rb `scheme`, `forwarded_scheme`; it never reads RFC 7239 `Forwarded:`), and trusts them from any
# client. Behind a front end that sends only X-ARR-SSL (Azure App Service on Windows) request.ssl? is false:
#  - FORCE_SSL=1 (ActionDispatch::SSL) answers 301 (308 for POST) to the same https:// URL, forever;
#  - load_defaults 6.1 includes forgery_protection_origin_check, so a browser POST with Origin: https://host gets
#    422 ActionController::InvalidAuthenticityToken, logged as "HTTP Origin header (https://...) didn't match
#    request.base_url (http://...)"; the page is public/422.html, the file every `rails new` app has (copied
#    verbatim from railties' app template; without it Rails answers 422 with an empty body);
#  - url_for(only_path: false) builds http:// URLs (the OAuth redirect_uri);
#  - the session cookie is Secure only with force_ssl on an HTTPS request (it is always HttpOnly, SameSite=Lax).
# With X-Forwarded-Proto: https (Azure on Linux, Heroku, a configured nginx) nothing is needed (FIX=xfp = no change).
# Rails 7.1 added config.assume_ssl for front ends that send no such header
# (https://guides.rubyonrails.org/configuring.html#config-assume-ssl, ActionDispatch::AssumeSSL); 6.1 has none, so
# FIX=1 inserts as the first middleware (https://guides.rubyonrails.org/v6.1/rails_on_rack.html#configuring-middleware-stack)
# one that does what AssumeSSL does (env["HTTPS"] = "on", which Rack's `scheme` reads first), only when X-ARR-SSL is
# present. RAILS_ENV defaults to production (static 422 page, no debug page); SECRET_KEY_BASE may come from the env.

$stdout.sync = true
ENV["RAILS_ENV"] ||= "production"

require "action_controller/railtie"

# FIX=1: the request came through an SSL-terminating Azure front end (it adds X-ARR-SSL) -> it is HTTPS.
class ArrSslIsHttps
  def initialize(app)
    @app = app
  end

  def call(env)
    env["HTTPS"] = "on" if env["HTTP_X_ARR_SSL"]
    @app.call(env)
  end
end

module OffloadRails
  class Application < Rails::Application
    config.load_defaults 6.1
    config.root = __dir__
    config.eager_load = false
    config.secret_key_base = ENV.fetch("SECRET_KEY_BASE", "offload-test-only-not-a-secret-" * 3)
    config.logger = ActiveSupport::Logger.new($stdout)
    config.log_level = :info
    config.force_ssl = true if ENV["FORCE_SSL"] == "1"
    config.middleware.insert_before 0, ArrSslIsHttps if ENV["FIX"] == "1"
  end
end

Rails.application.initialize!

class DemoController < ActionController::Base
  FORM = <<~ERB
    <!DOCTYPE html>
    <html><head><title>form</title><%= csrf_meta_tags %></head>
    <body><%= form_with url: "/submit", local: true do |f| %>
      <%= f.text_field :name %> <%= f.submit "Send" %>
    <% end %></body></html>
  ERB

  def login
    session[:user] = "demo"
    render plain: "logged in\n"
  end

  def account = render(plain: "your account\n")
  def form = render(inline: FORM)
  def submit = render(plain: "submitted #{params[:name]}\n")
  def oauth_callback = render(plain: "callback\n")

  def oauth_start
    callback = url_for(action: :oauth_callback, only_path: false)
    redirect_to "http://127.0.0.1:9/authorize?#{{ redirect_uri: callback }.to_query}"
  end
end

Rails.application.routes.draw do
  get "login", to: "demo#login"
  get "account", to: "demo#account"
  get "form", to: "demo#form"
  post "submit", to: "demo#submit"
  get "oauth/start", to: "demo#oauth_start"
  get "oauth/callback", to: "demo#oauth_callback"
end

run Rails.application
