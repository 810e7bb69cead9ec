//! The placeholder emitted next to the errors of a network that failed to
//! check. It has the generated struct's name and, as far as the broken
//! network shows them, its methods with the same signatures (built by the
//! same [`Sig`] as the real ones), its head fields, and the runtime traits,
//! so that user code calling it, or passing it to `fit`, compiles on and
//! adds no errors of its own. A network with steps without a length also
//! gets the streaming API (`{Name}State`, with the fields of the stateful
//! layers built before the mistake, `step`, `forward_steps`), which is all
//! such a network's user can call.
//!
//! Nothing here can run: the placeholder exists only when the crate already
//! fails to compile, so method bodies are `loop {}` and never panic.

use super::private;
use super::sig::Sig;
use super::stream::StreamSig;
use super::traits::data_impl;
use crate::check::Interface;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// Emits the placeholder for `name`.
pub fn emit(vis: &syn::Visibility, name: &Ident, iface: &Interface) -> TokenStream {
    let p = private();
    let sig = Sig::of_interface(name, iface);
    let output_struct = sig.output_struct(vis, "", &[], true);
    let losses_struct = sig.losses_struct(vis, "", &[]);
    let (forward, forward_batch, loss_and_grad, train_step, optimizer) = (
        sig.decl_forward(),
        sig.decl_forward_batch(),
        sig.decl_loss_and_grad(),
        sig.decl_train_step(),
        sig.decl_optimizer(),
    );
    let (new, zeros, summary) = (sig.decl_new(), sig.decl_zeros(), sig.decl_summary());
    let (new_boxed, to_safetensors, from_safetensors) =
        (sig.decl_new_boxed(), sig.decl_to_safetensors(), sig.decl_from_safetensors());
    let data = data_impl(name, &sig);
    // the types of the streaming API, and its methods for the impl below
    let (stream_types, stream_methods) = match iface.stream_channels {
        Some(channels) => {
            // every sequence of such a network is held as one step, so a
            // head's size is its values at one step
            let heads = sig.heads.iter().map(|h| (h.field.clone(), h.size)).collect();
            let ss = StreamSig::new(name, format_ident!("__sn_input0"), channels, heads);
            let (state_struct, output_struct) =
                (ss.state_struct(vis, &iface.stream_state), ss.output_struct(vis, true));
            let (step, forward_steps) = (ss.decl_step(), ss.decl_forward_steps());
            (quote!(#state_struct #output_struct), quote!(#step { loop {} } #forward_steps { loop {} }))
        }
        None => (quote!(), quote!()),
    };
    quote! {
        #[doc(hidden)]
        #[derive(Clone, Debug, PartialEq)]
        #vis struct #name<T: #p::Scalar = f32>(::core::marker::PhantomData<T>);

        #output_struct
        #losses_struct
        #stream_types

        #[allow(dead_code, unused_variables, unused_braces, clippy::all)]
        impl<T: #p::Scalar> #name<T> {
            pub const PARAM_COUNT: usize = 0;
            #new {
                #name(::core::marker::PhantomData)
            }
            #zeros {
                #name(::core::marker::PhantomData)
            }
            #summary {
                loop {}
            }
            #forward {
                loop {}
            }
            #forward_batch {
                loop {}
            }
            #loss_and_grad {
                loop {}
            }
            #optimizer {
                loop {}
            }
            #train_step {
                loop {}
            }
            #stream_methods
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #p::Scalar> #p::Network<T> for #name<T> {
            const PARAM_COUNT: usize = 0;
            const TENSORS: &'static [#p::TensorInfo] = &[];
            const INPUT_NAMES: &'static [&'static str] = &[];
            const INPUT_WIDTHS: &'static [usize] = &[];
            const HEADS: &'static [#p::HeadInfo] = &[];
            const FORWARD_ROWS: usize = 0;
            const TRAIN_ROWS: usize = 0;
            const HEAD_OFFSETS: &'static [usize] = &[];
            const STATS_LEN: usize = 0;
            fn zeros() -> Self {
                #name(::core::marker::PhantomData)
            }
            fn with_seed(_: u64) -> Self {
                #name(::core::marker::PhantomData)
            }
            fn tensor(&self, _: usize) -> &[T] {
                &[]
            }
            fn tensor_mut(&mut self, _: usize) -> &mut [T] {
                &mut []
            }
            fn forward_slices(&self, _: usize, _: &[&[T]], _: &mut [T], _: #p::Mode, _: &mut [T]) {}
        }

        #[allow(unused_variables, clippy::all)]
        impl<T: #p::Scalar> #p::Train<T> for #name<T> {
            fn loss_and_grad_slices(&self, _: usize, _: &[&[T]], _: &[&[T]], _: ::core::option::Option<&[T]>, _: &mut [T], _: &mut [T], _: &mut Self, _: &mut [T], _: u64) -> T {
                loop {}
            }
            fn update_moving_statistics(&mut self, _: &[T]) {}
        }

        #p::with_alloc! {
            #[allow(dead_code, unused_variables, clippy::all)]
            impl<T: #p::Scalar> #name<T> {
                #new_boxed {
                    loop {}
                }
                #to_safetensors {
                    loop {}
                }
                #from_safetensors {
                    loop {}
                }
            }

            #data
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check;
    use quote::quote;

    /// The placeholder of `tokens`, which must fail to check, as a string.
    fn placeholder_of(tokens: proc_macro2::TokenStream) -> String {
        let def = crate::parse::parse(tokens).unwrap();
        let Err(failure) = check(&def) else { panic!("expected errors") };
        super::emit(&def.vis, &def.name, &failure.iface).to_string()
    }

    #[test]
    fn a_streaming_network_keeps_its_streaming_api() {
        let code = placeholder_of(quote! {
            pub struct Net {
                let x = Input(shape = (None, 2));
                let h = GRU(8, return_sequences = true)(x);
                let a = Dense(3, name = "a")(h);
                let b = Dense(0, name = "b")(h);
                Model(x, [a, b]);
            }
        });
        for item in [
            "pub struct NetState < T : :: staticnet :: __private :: Scalar = f32 >",
            "for NetState < T >",
            "pub fn reset (& mut self)",
            "pub struct NetStepOutput < T : :: staticnet :: __private :: Scalar , const S : usize = 1 >",
            // the head with the mistake keeps its field, one value wide
            "pub a : :: staticnet :: __private :: SMatrix < T , 3 , { S } >",
            "pub b : :: staticnet :: __private :: SMatrix < T , 1 , { S } >",
            "pub fn step (& self , state : & mut NetState < T > , __sn_input0 : & :: staticnet :: __private :: SVector < T , 2 >) -> NetStepOutput < T >",
            "pub fn forward_steps < const S : usize > (& self , __sn_input0 : & :: staticnet :: __private :: SMatrix < T , 2 , { S } >) -> NetStepOutput < T , S >",
        ] {
            assert!(code.contains(item), "no `{item}` in {code}");
        }
        let plain = placeholder_of(quote! {
            pub struct Net {
                let x = Input(shape = (16, 2));
                let y = GRU(8, activation = tanhh)(x);
                Model(x, y);
            }
        });
        assert!(!plain.contains("NetState") && !plain.contains("fn step"), "{plain}");
    }
}
