//! The training methods: `loss_and_grad`, `optimizer`, `train_step`, and
//! the runtime's `Train` trait (what `fit` calls), all on `__sn_pass`.

use super::fields::Fields;
use super::private;
use super::sig::Sig;
use crate::ir::{Graph, Layout, Setting};
use crate::ops::{f64_lit, lit};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// The inherent training methods, for a network whose every head has a loss.
pub fn methods(g: &Graph, layout: &Layout, sig: &Sig) -> TokenStream {
    if !g.trainable() {
        return quote!();
    }
    let p = private();
    let (train_rows, stats_len, n_heads) = (lit(layout.train_rows), lit(layout.stats_len), lit(g.heads.len()));
    let targets: Vec<&Ident> = sig.heads.iter().map(|h| &h.target_arg).collect();
    let (prelude, pass_inputs) = sig.pass_inputs();
    let pass_targets = quote!(&[#(#targets.as_slice()),*]);
    let losses = &sig.losses_name;
    let fields = sig.heads.iter().map(|h| h.field.as_ref().expect("a checked head has a field"));
    let index = (0..g.heads.len()).map(lit);
    let make_losses = quote!(#losses { total: __sn_total, #(#fields: __sn_head[#index]),* });
    let optimizer_ty = &sig.optimizer;
    let settings = g.optimizer.settings.iter().map(|(k, v)| {
        let m = format_ident!("with_{}", k);
        match v {
            Setting::Float(f) => {
                let f = f64_lit(*f);
                quote!(.#m(#f))
            }
            Setting::Bool(b) => quote!(.#m(#b)),
        }
    });
    let (loss_and_grad, optimizer, train_step) =
        (sig.decl_loss_and_grad(), sig.decl_optimizer(), sig.decl_train_step());
    quote! {
        /// Runs the training-mode forward pass on `B` samples, every head's
        /// loss and the weighted total, and writes the total's gradient into
        /// `grads` (dropout uses seed 0; see `train_step` for fresh masks).
        #loss_and_grad {
            let mut __sn_ws = #p::ops::CacheAligned(#p::SMatrix::<T, #train_rows, { B }>::zeros());
            let mut __sn_stats = #p::SVector::<T, #stats_len>::zeros();
            let mut __sn_head = [<T as #p::Scalar>::of_f64(0.0); #n_heads];
            #prelude
            let __sn_total = self.__sn_pass(B, #pass_inputs, __sn_ws.0.as_mut_slice(), #p::Mode::Training { dropout_seed: 0 }, __sn_stats.as_mut_slice(),
                Some((#pass_targets, None, grads, &mut __sn_head)));
            #make_losses
        }

        /// The optimizer `compile` names, with Keras's defaults for what it
        /// leaves out, its state sized for this model.
        #optimizer {
            #p::#optimizer_ty::<T, Self>::new() #(#settings)*
        }

        /// One training step on `B` samples: `loss_and_grad`, the
        /// moving-statistics update, then one optimizer update. Returns the
        /// losses before the update.
        #train_step {
            let mut __sn_grads = Self::zeros();
            let mut __sn_ws = #p::ops::CacheAligned(#p::SMatrix::<T, #train_rows, { B }>::zeros());
            let mut __sn_stats = #p::SVector::<T, #stats_len>::zeros();
            let mut __sn_head = [<T as #p::Scalar>::of_f64(0.0); #n_heads];
            let __sn_seed = #p::rng::mix(#p::Optimizer::iterations(&*optimizer) ^ 0x5EED_0F_D80F_0000);
            #prelude
            let __sn_total = self.__sn_pass(B, #pass_inputs, __sn_ws.0.as_mut_slice(), #p::Mode::Training { dropout_seed: __sn_seed }, __sn_stats.as_mut_slice(),
                Some((#pass_targets, None, &mut __sn_grads, &mut __sn_head)));
            <Self as #p::Train<T>>::update_moving_statistics(self, __sn_stats.as_slice());
            #p::Optimizer::apply(optimizer, self, &__sn_grads);
            #make_losses
        }
    }
}

/// `impl Train<T>`: the pass with targets, and the moving statistics.
pub fn train_impl(name: &Ident, g: &Graph, fields: &Fields) -> TokenStream {
    if !g.trainable() {
        return quote!();
    }
    let p = private();
    let moving = &fields.moving;
    quote! {
        impl<T: #p::Scalar> #p::Train<T> for #name<T> {
            fn loss_and_grad_slices(&self, n: usize, inputs: &[&[T]], targets: &[&[T]], sample_weight: ::core::option::Option<&[T]>, workspace: &mut [T], stats: &mut [T], grads: &mut Self, head_losses: &mut [T], dropout_seed: u64) -> T {
                self.__sn_pass(n, inputs, workspace, #p::Mode::Training { dropout_seed }, stats, Some((targets, sample_weight, grads, head_losses)))
            }
            #[allow(unused_variables)]
            fn update_moving_statistics(&mut self, __sn_stats: &[T]) {
                #(#moving)*
            }
        }
    }
}
